import { SelectableValue } from '@grafana/data';
import { useEffect, useState } from 'react';

import type { DataSource } from '../datasource';
import { Aggregation } from '../types';

// Hooks that load the editor's dropdowns from the backend's resources. A
// failed load leaves the list empty and says why in `error`.

export interface Loaded<T> {
  value: T;
  loading: boolean;
  error?: string;
}

export function useAggregations(datasource: DataSource): Loaded<Aggregation[]> {
  const [state, setState] = useState<Loaded<Aggregation[]>>({ value: [], loading: true });
  useEffect(() => {
    let live = true;
    datasource.getAggregations().then(
      (value) => live && setState({ value, loading: false }),
      (err) => live && setState({ value: [], loading: false, error: errorText(err) })
    );
    return () => {
      live = false;
    };
  }, [datasource]);
  return state;
}

export function useDimensions(datasource: DataSource, aggregation?: string): Loaded<string[]> {
  const [state, setState] = useState<Loaded<string[]>>({ value: [], loading: !!aggregation });
  useEffect(() => {
    if (!aggregation) {
      setState({ value: [], loading: false });
      return;
    }
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    datasource.getDimensions(aggregation).then(
      (value) => live && setState({ value, loading: false }),
      (err) => live && setState({ value: [], loading: false, error: errorText(err) })
    );
    return () => {
      live = false;
    };
  }, [datasource, aggregation]);
  return state;
}

export function errorText(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as {
      data?: { message?: string; error?: string | { message?: string } };
      message?: string;
      statusText?: string;
    };
    const inner = e.data?.error;
    return (
      e.data?.message ||
      (typeof inner === 'string' ? inner : inner?.message) ||
      e.message ||
      e.statusText ||
      'request failed'
    );
  }
  return String(err);
}

/** Options for a list of names, with the dashboard's variables after them. */
export function toOptions(names: string[], variables: string[] = []): Array<SelectableValue<string>> {
  return [
    ...names.map((n) => ({ label: n, value: n })),
    ...variables.map((v) => ({ label: v, value: v, description: 'template variable' })),
  ];
}

/** Keeps a selected value in the options even when the list does not have it. */
export function withValue(options: Array<SelectableValue<string>>, value?: string): Array<SelectableValue<string>> {
  if (!value || options.some((o) => o.value === value)) {
    return options;
  }
  return [...options, { label: value, value }];
}

export const COMMON_QUANTILES = ['p50', 'p90', 'p95', 'p99', 'p99.9'];

// measureOptions are the measures the aggregation supports: its own list, and
// the common pNN when it keeps a sketch (then any quantile can be asked).
// Without the aggregation's description, the API's measure names.
export function measureOptions(agg: Aggregation | undefined, selected: string[] = []): Array<SelectableValue<string>> {
  let names: string[];
  if (agg) {
    names = [...(agg.measures ?? [])];
    if (agg.any_quantile) {
      names.push(...COMMON_QUANTILES.filter((q) => !names.includes(q)));
    }
  } else {
    names = ['count', 'rate', 'errors', 'error_ratio', 'client_errors', 'server_errors', 'client_error_ratio'];
  }
  for (const s of selected) {
    if (!names.includes(s)) {
      names.push(s);
    }
  }
  // Quantiles after the other measures, in increasing order.
  const rank = (n: string) => (QUANTILE.test(n) ? 1 + quantileOf(n) : 0);
  const ordered = names.map((n, i) => ({ n, i })).sort((a, b) => rank(a.n) - rank(b.n) || a.i - b.i);
  return ordered.map(({ n }) => ({ label: n, value: n }));
}

const QUANTILE = /^(p|q)([0-9]*\.?[0-9]+)$/;

// quantileOf reads p99.9 as 0.999 and q0.999 as 0.999.
function quantileOf(name: string): number {
  const m = QUANTILE.exec(name)!;
  const v = parseFloat(m[2]);
  return m[1] === 'p' ? v / 100 : v;
}
