import { ScopedVars } from '@grafana/data';
import { TemplateSrv } from '@grafana/runtime';

import { Filter, KwindowQuery, KwindowVariableQuery, MatchOp } from './types';

// Template variables are resolved here, in the browser, so the backend gets
// plain values. Alerting runs queries without a browser: its rules must not
// use dashboard variables (Grafana refuses to save such rules anyway).

const REGEX_SPECIAL = /[\\^$.|?*+()[\]{}]/g;

export function escapeRegex(value: string): string {
  return value.replace(REGEX_SPECIAL, '\\$&');
}

// regexFormat turns a multi-value (or include-All) variable into an
// alternation of its values, each escaped: "(a|b\.c)". A plain single-value
// variable stays as typed, so a text box can hold a regular expression.
function regexFormat(value: unknown, variable?: { multi?: boolean; includeAll?: boolean }): string {
  const values = Array.isArray(value) ? value.map(String) : [String(value)];
  if (!Array.isArray(value) && !variable?.multi && !variable?.includeAll) {
    return values[0];
  }
  if (values.length === 1) {
    return escapeRegex(values[0]);
  }
  return '(' + values.map(escapeRegex).join('|') + ')';
}

const REGEX_OP: Record<MatchOp, MatchOp> = { '=': '=~', '!=': '!~', '=~': '=~', '!~': '!~' };

export function interpolateFilter(templateSrv: TemplateSrv, f: Filter, scopedVars?: ScopedVars): Filter {
  const dim = templateSrv.replace(f.dim, scopedVars);
  if (f.op === '=~' || f.op === '!~') {
    return { dim, op: f.op, value: templateSrv.replace(f.value, scopedVars, regexFormat) };
  }
  // = and != take one value: a variable with several selected turns the
  // filter into its regular-expression form.
  let several = false;
  const value = templateSrv.replace(f.value, scopedVars, (v: unknown) => {
    if (Array.isArray(v)) {
      several = several || v.length !== 1;
      return v.map(String).join(',');
    }
    return String(v);
  });
  if (several) {
    return { dim, op: REGEX_OP[f.op], value: templateSrv.replace(f.value, scopedVars, regexFormat) };
  }
  return { dim, op: f.op, value };
}

// interpolateList replaces variables in each item; a multi-value variable
// adds one item per value.
export function interpolateList(templateSrv: TemplateSrv, items: string[], scopedVars?: ScopedVars): string[] {
  return items
    .flatMap((item) => templateSrv.replace(item, scopedVars, 'csv').split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export function interpolateQuery(templateSrv: TemplateSrv, q: KwindowQuery, scopedVars?: ScopedVars): KwindowQuery {
  const out: KwindowQuery = { ...q };
  if (q.aggregation) {
    out.aggregation = templateSrv.replace(q.aggregation, scopedVars);
  }
  if (q.measures) {
    out.measures = interpolateList(templateSrv, q.measures, scopedVars);
  }
  if (q.filters) {
    // A row the editor has added but not filled in yet is not a filter.
    out.filters = q.filters.filter((f) => f.dim).map((f) => interpolateFilter(templateSrv, f, scopedVars));
  }
  if (q.groupBy) {
    out.groupBy = interpolateList(templateSrv, q.groupBy, scopedVars);
  }
  if (q.legendFormat) {
    out.legendFormat = templateSrv.replace(q.legendFormat, scopedVars);
  }
  if (q.step) {
    out.step = templateSrv.replace(q.step, scopedVars);
  }
  return out;
}

export function interpolateVariableQuery(
  templateSrv: TemplateSrv,
  q: KwindowVariableQuery,
  scopedVars?: ScopedVars
): KwindowVariableQuery {
  return {
    ...q,
    aggregation: q.aggregation ? templateSrv.replace(q.aggregation, scopedVars) : q.aggregation,
    dimension: q.dimension ? templateSrv.replace(q.dimension, scopedVars) : q.dimension,
    prefix: q.prefix ? templateSrv.replace(q.prefix, scopedVars) : q.prefix,
    filters: q.filters?.map((f) => interpolateFilter(templateSrv, f, scopedVars)),
  };
}

/** A filter as the API's match[] parameter: dim=~"value" (PromQL quoting). */
export function toMatcher(f: Filter): string {
  return `${f.dim}${f.op}"${f.value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

// parseVariableQuery reads the text form "aggregation/dimension" (or
// "aggregation/dimension/prefix") that a provisioned dashboard may use.
export function parseVariableQuery(s: string): KwindowVariableQuery {
  const [aggregation = '', dimension = '', ...rest] = s.split('/');
  return { refId: 'variable', aggregation: aggregation.trim(), dimension: dimension.trim(), prefix: rest.join('/') };
}
