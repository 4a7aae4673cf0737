import { DataQuery, DataSourceJsonData } from '@grafana/schema';

// The query model of QUERY_MODEL.md: one panel target, as stored in dashboards
// and sent to the backend.

export type QueryType = 'range' | 'latest' | 'topk' | 'anomalies';

export const QUERY_TYPES: QueryType[] = ['range', 'latest', 'topk', 'anomalies'];

export type MatchOp = '=' | '!=' | '=~' | '!~';

export const MATCH_OPS: MatchOp[] = ['=', '!=', '=~', '!~'];

export interface Filter {
  dim: string;
  op: MatchOp;
  value: string;
}

export interface KwindowQuery extends DataQuery {
  queryType?: QueryType;
  aggregation?: string;
  /** API measure names; the backend defaults to ["rate"]. */
  measures?: string[];
  /** Adds measure "q<quantile>". */
  quantile?: number;
  filters?: Filter[];
  /** Absent: one series per key; []: every key merged into one series. */
  groupBy?: string[];
  /** {{dim}} and {{measure}}. */
  legendFormat?: string;
  /** Overrides Grafana's interval ("5m"). */
  step?: string;
  /** topk only. */
  k?: number;
  bottom?: boolean;
  live?: boolean;
  /** range and latest only: leave out windows still open. */
  closedOnly?: boolean;
  stale?: boolean;
  /** anomalies only: |z-score| a window must pass. */
  threshold?: number;
}

export const DEFAULT_QUERY: Partial<KwindowQuery> = {
  queryType: 'range',
  measures: ['rate'],
};

export const DEFAULT_THRESHOLD = 3;

export const DEFAULT_K = 10;

/** A template variable's query: the values of one dimension. */
export interface KwindowVariableQuery extends DataQuery {
  aggregation?: string;
  dimension?: string;
  prefix?: string;
  filters?: Filter[];
}

export interface KwindowOptions extends DataSourceJsonData {
  /** Exporter instances, tried in this order. */
  urls?: string[];
  timeoutSeconds?: number;
}

export interface KwindowSecureOptions {
  token?: string;
}

export const DEFAULT_TIMEOUT_SECONDS = 30;

/** An aggregation as /api/v1/aggregations describes it (the fields the editor uses). */
export interface Aggregation {
  name: string;
  group_by?: string[];
  measures?: string[];
  quantiles?: number[];
  any_quantile?: boolean;
  sketch_relative_error?: number | null;
  window?: { type?: string; size?: string };
}
