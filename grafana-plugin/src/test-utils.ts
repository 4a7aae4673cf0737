import { DataSourceInstanceSettings, PluginType, ScopedVars } from '@grafana/data';
import { setTemplateSrv, TemplateSrv } from '@grafana/runtime';

import { DataSource } from './datasource';
import { Aggregation, KwindowOptions } from './types';

// Test doubles: a TemplateSrv that follows Grafana's replace() rules the tests
// rely on, and a DataSource whose resources answer from fixed data.

export interface TestVariable {
  name: string;
  value: string | string[];
  multi?: boolean;
  includeAll?: boolean;
}

type Formatter = (value: unknown, variable: TestVariable) => string;

// FakeTemplateSrv: $name, ${name} and [[name]]; scoped variables win over
// dashboard ones; unknown variables stay as written; a format function gets
// the raw value (an array for a multi-value variable) and the variable; the
// "csv" format joins with commas; without a format an array becomes {a,b}
// (Grafana's glob default).
export class FakeTemplateSrv implements TemplateSrv {
  constructor(private variables: TestVariable[] = []) {}

  getVariables() {
    return this.variables.map((v) => ({ name: v.name, type: 'custom' })) as unknown as ReturnType<
      TemplateSrv['getVariables']
    >;
  }

  replace(target?: string, scopedVars?: ScopedVars, format?: string | Function): string {
    if (!target) {
      return target ?? '';
    }
    return target.replace(/\$(\w+)|\$\{(\w+)\}|\[\[(\w+)\]\]/g, (match, a, b, c) => {
      const name = a ?? b ?? c;
      const scoped = scopedVars?.[name];
      const variable: TestVariable | undefined = scoped
        ? { name, value: scoped.value }
        : this.variables.find((v) => v.name === name);
      if (!variable) {
        return match;
      }
      if (typeof format === 'function') {
        return (format as Formatter)(variable.value, variable);
      }
      if (Array.isArray(variable.value)) {
        return format === 'csv' ? variable.value.join(',') : `{${variable.value.join(',')}}`;
      }
      return variable.value;
    });
  }

  containsTemplate(target?: string): boolean {
    return !!target && /\$\w+|\$\{\w+\}|\[\[\w+\]\]/.test(target);
  }

  updateTimeRange() {}
}

export function withTemplateVariables(variables: TestVariable[] = []): FakeTemplateSrv {
  const srv = new FakeTemplateSrv(variables);
  setTemplateSrv(srv);
  return srv;
}

export const instanceSettings: DataSourceInstanceSettings<KwindowOptions> = {
  id: 1,
  uid: 'kwindow-uid',
  type: 'kwindow-kwindow-datasource',
  name: 'kwindow',
  access: 'proxy',
  readOnly: false,
  jsonData: { urls: ['http://127.0.0.1:9897'], timeoutSeconds: 30 },
  meta: {
    id: 'kwindow-kwindow-datasource',
    name: 'kwindow',
    type: PluginType.datasource,
    module: 'public/plugins/kwindow-kwindow-datasource/module',
    baseUrl: 'public/plugins/kwindow-kwindow-datasource',
    info: {
      author: { name: 'kwindow' },
      description: '',
      links: [],
      logos: { small: '', large: '' },
      screenshots: [],
      updated: '',
      version: '',
    },
  },
};

export const AGGREGATIONS: Aggregation[] = [
  {
    name: 'endpoint_1m',
    group_by: ['endpoint', 'region'],
    measures: ['count', 'rate', 'errors', 'error_ratio', 'p50', 'p99'],
    quantiles: [0.5, 0.99],
    any_quantile: true,
    sketch_relative_error: 0.0054,
  },
  {
    name: 'status_10s',
    group_by: ['status'],
    measures: ['count', 'rate'],
    quantiles: [],
    any_quantile: false,
    sketch_relative_error: null,
  },
];

export const VALUES: Record<string, string[]> = {
  endpoint: ['/api/cart', '/api/checkout'],
  region: ['eu-west', 'us-east'],
  status: ['200', '500'],
};

export type ResourceCall = { path: string; params?: Record<string, unknown> };

// newDataSource returns a DataSource whose getResource answers like the
// backend: aggregations, dimensions and values. Every call is recorded.
export function newDataSource(): { ds: DataSource; calls: ResourceCall[] } {
  const ds = new DataSource(instanceSettings);
  const calls: ResourceCall[] = [];
  const getResource = jest.fn(async (path: string, params?: Record<string, unknown>): Promise<unknown> => {
    calls.push({ path, params });
    switch (path) {
      case 'aggregations':
        return AGGREGATIONS;
      case 'dimensions':
        return AGGREGATIONS.find((a) => a.name === params?.aggregation)?.group_by ?? [];
      case 'values':
        return { values: VALUES[String(params?.dimension)] ?? [] };
    }
    throw new Error(`unknown resource ${path}`);
  });
  ds.getResource = getResource as unknown as DataSource['getResource'];
  return { ds, calls };
}
