import {
  CoreApp,
  DataQueryRequest,
  DataQueryResponse,
  DataSourceInstanceSettings,
  MetricFindValue,
  ScopedVars,
} from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv, TemplateSrv } from '@grafana/runtime';
import { map, Observable } from 'rxjs';

import { KwindowAnnotations } from './annotations';
import { applyLiveLegends } from './legend';
import { interpolateQuery, interpolateVariableQuery, parseVariableQuery, toMatcher } from './template';
import { Aggregation, DEFAULT_QUERY, KwindowOptions, KwindowQuery, KwindowVariableQuery } from './types';
import { KwindowVariableSupport } from './variables';

export class DataSource extends DataSourceWithBackend<KwindowQuery, KwindowOptions> {
  private aggregations?: Promise<Aggregation[]>;

  // Exactly one parameter: Grafana 10 builds a data source whose constructor
  // takes any other number through Angular's injector, and fails.
  constructor(instanceSettings: DataSourceInstanceSettings<KwindowOptions>) {
    super(instanceSettings);
    this.variables = new KwindowVariableSupport(this);
    this.annotations = KwindowAnnotations;
  }

  private get templateSrv(): TemplateSrv {
    return getTemplateSrv();
  }

  getDefaultQuery(_: CoreApp): Partial<KwindowQuery> {
    return DEFAULT_QUERY;
  }

  // filterQuery keeps queries that can run: hidden ones and ones without an
  // aggregation (a new, unfinished query) are not sent.
  filterQuery(query: KwindowQuery): boolean {
    return !query.hide && !!query.aggregation;
  }

  applyTemplateVariables(query: KwindowQuery, scopedVars: ScopedVars): KwindowQuery {
    return interpolateQuery(this.templateSrv, query, scopedVars);
  }

  // query names the series of live queries' streamed frames by their legend
  // format (the backend names those of every other frame).
  query(request: DataQueryRequest<KwindowQuery>): Observable<DataQueryResponse> {
    const live = request.targets
      .filter((t) => t.live && this.filterQuery(t))
      .map((t) => this.applyTemplateVariables(t, request.scopedVars));
    const responses = super.query(request);
    if (!live.some((t) => t.legendFormat)) {
      return responses;
    }
    return responses.pipe(map((r) => applyLiveLegends(r, live)));
  }

  /** The aggregations the exporter serves, asked once per data source instance. */
  getAggregations(): Promise<Aggregation[]> {
    if (!this.aggregations) {
      this.aggregations = this.getResource('aggregations')
        .then((r) => listOf<Aggregation>(r, 'aggregations'))
        .catch((err) => {
          this.aggregations = undefined;
          throw err;
        });
    }
    return this.aggregations;
  }

  async getDimensions(aggregation: string): Promise<string[]> {
    if (!aggregation) {
      return [];
    }
    const r = await this.getResource('dimensions', { aggregation: this.templateSrv.replace(aggregation) });
    return listOf<string>(r, 'dimensions', 'group_by');
  }

  async getValues(q: KwindowVariableQuery, scopedVars?: ScopedVars): Promise<string[]> {
    const v = interpolateVariableQuery(this.templateSrv, q, scopedVars);
    if (!v.aggregation || !v.dimension) {
      return [];
    }
    const params: Record<string, string | string[]> = { aggregation: v.aggregation, dimension: v.dimension };
    if (v.prefix) {
      params.prefix = v.prefix;
    }
    const match = (v.filters ?? []).filter((f) => f.dim && f.value !== undefined).map(toMatcher);
    if (match.length) {
      params['match[]'] = match;
    }
    const r = await this.getResource('values', params);
    return listOf<string>(r, 'values');
  }

  /** Template variables: the values of one dimension (resource "values"). */
  async metricFindQuery(
    query: KwindowVariableQuery | string,
    options?: { scopedVars?: ScopedVars }
  ): Promise<MetricFindValue[]> {
    const q: KwindowVariableQuery = typeof query === 'string' ? parseVariableQuery(query) : query;
    const values = await this.getValues(q, options?.scopedVars);
    return values.map((text) => ({ text, value: text }));
  }

  getVariableNames(): string[] {
    return this.templateSrv.getVariables().map((v) => '$' + v.name);
  }
}

// listOf accepts a resource's answer as a bare list, inside the API's
// {"status","data"} envelope, or as an object holding the list under key.
function listOf<T>(r: unknown, ...keys: string[]): T[] {
  if (Array.isArray(r)) {
    return r as T[];
  }
  if (r && typeof r === 'object') {
    const o = r as Record<string, unknown>;
    if ('data' in o && o.data !== undefined) {
      return listOf<T>(o.data, ...keys);
    }
    for (const k of keys) {
      if (Array.isArray(o[k])) {
        return o[k] as T[];
      }
    }
  }
  return [];
}
