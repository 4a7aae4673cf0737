import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { InlineField, InlineFieldRow, InlineSwitch, Input, MultiSelect, RadioButtonGroup, Select } from '@grafana/ui';
import React, { ChangeEvent } from 'react';

import type { DataSource } from '../datasource';
import { DEFAULT_K, DEFAULT_THRESHOLD, Filter, KwindowOptions, KwindowQuery, QueryType } from '../types';
import { FiltersEditor } from './FiltersEditor';
import { measureOptions, toOptions, useAggregations, useDimensions, withValue } from './resources';

export type Props = QueryEditorProps<DataSource, KwindowQuery, KwindowOptions> & {
  /** The annotation editor: the query type is fixed to anomalies. */
  anomalies?: boolean;
};

const QUERY_TYPE_OPTIONS: Array<SelectableValue<QueryType>> = [
  { label: 'Range', value: 'range', description: 'measures over the time range, one point per step' },
  { label: 'Latest', value: 'latest', description: 'the latest closed window of each key, and the open ones' },
  { label: 'Top k', value: 'topk', description: 'the k keys with the largest (or smallest) value over the range' },
];

type Series = 'key' | 'group';

const SERIES_OPTIONS: Array<SelectableValue<Series>> = [
  { label: 'Per key', value: 'key', description: 'one series per key of the aggregation' },
  { label: 'Group by', value: 'group', description: 'merge the keys that share these dimensions (none: all keys)' },
];

const LABEL_WIDTH = 14;

// QueryEditor edits one kwindow query. Dropdown changes run the query at once;
// text and number fields run it when they lose focus.
export function QueryEditor(props: Props) {
  const { datasource, query, onChange, onRunQuery, anomalies } = props;
  const aggregations = useAggregations(datasource);
  const dimensions = useDimensions(datasource, query.aggregation);
  const variables = datasource.getVariableNames();

  const queryType: QueryType = anomalies ? 'anomalies' : query.queryType ?? 'range';
  const agg = aggregations.value.find((a) => a.name === query.aggregation);
  const measures = query.measures ?? [];

  const change = (patch: Partial<KwindowQuery>, run = true) => {
    onChange({ ...query, ...patch });
    if (run) {
      onRunQuery();
    }
  };
  const text = (key: 'legendFormat' | 'step') => ({
    value: query[key] ?? '',
    onChange: (e: ChangeEvent<HTMLInputElement>) => change({ [key]: e.currentTarget.value || undefined }, false),
    onBlur: () => onRunQuery(),
  });

  const onAggregation = (v: SelectableValue<string> | null) => {
    const name = v?.value ?? '';
    const next = aggregations.value.find((a) => a.name === name);
    const patch: Partial<KwindowQuery> = { aggregation: name };
    // Measures the new aggregation cannot answer go; filters and groupBy on
    // dimensions it lacks are left for the user to see and fix.
    if (next && measures.length) {
      const allowed = new Set(measureOptions(next).map((o) => o.value));
      const kept = measures.filter((m) => allowed.has(m) || (next.any_quantile && /^(p|q)[0-9.]+$/.test(m)));
      patch.measures = kept.length ? kept : undefined;
    }
    if (next && !next.any_quantile) {
      patch.quantile = undefined;
    }
    change(patch);
  };

  const series: Series = query.groupBy === undefined ? 'key' : 'group';
  const quantileAllowed = !agg || !!agg.any_quantile;

  return (
    <div>
      <InlineFieldRow>
        {!anomalies && (
          <InlineField label="Query type" labelWidth={LABEL_WIDTH}>
            <RadioButtonGroup<QueryType>
              options={QUERY_TYPE_OPTIONS}
              value={queryType}
              onChange={(v) => change({ queryType: v })}
            />
          </InlineField>
        )}
        <InlineField
          label="Aggregation"
          labelWidth={anomalies ? LABEL_WIDTH : undefined}
          invalid={!!aggregations.error}
          error={aggregations.error}
          tooltip="An aggregation of the exporter's configuration: its windows, dimensions and measures"
        >
          <Select
            aria-label="Aggregation"
            width={30}
            placeholder="choose an aggregation"
            isLoading={aggregations.loading}
            options={withValue(
              toOptions(
                aggregations.value.map((a) => a.name),
                variables
              ),
              query.aggregation
            )}
            value={query.aggregation || null}
            allowCustomValue
            onChange={onAggregation}
          />
        </InlineField>
      </InlineFieldRow>

      {queryType !== 'anomalies' && (
        <InlineFieldRow>
          <InlineField
            label="Measures"
            labelWidth={LABEL_WIDTH}
            tooltip={
              queryType === 'topk'
                ? 'Top k ranks by the first measure'
                : 'What to compute per point. Quantiles (pNN) merge the windows\u2019 sketches; default: rate'
            }
          >
            <MultiSelect<string>
              aria-label="Measures"
              width={40}
              placeholder="rate"
              options={measureOptions(agg, measures)}
              value={measures}
              allowCustomValue={quantileAllowed}
              onChange={(vs) => change({ measures: vs.map((v) => v.value!).filter(Boolean) })}
            />
          </InlineField>
          <InlineField
            label="Quantile"
            disabled={!quantileAllowed}
            tooltip={
              quantileAllowed
                ? 'Any quantile in (0, 1), e.g. 0.999: adds the measure q0.999'
                : 'This aggregation keeps no sketch: no quantiles'
            }
          >
            <Input
              aria-label="Quantile"
              type="number"
              width={12}
              min={0}
              max={1}
              step={0.001}
              placeholder="0.999"
              key={`q-${query.quantile ?? ''}`}
              defaultValue={query.quantile ?? ''}
              onBlur={(e) => {
                const q = parseFloat(e.currentTarget.value);
                const quantile = q > 0 && q < 1 ? q : undefined;
                if (quantile !== query.quantile) {
                  change({ quantile });
                }
              }}
            />
          </InlineField>
        </InlineFieldRow>
      )}

      <FiltersEditor
        datasource={datasource}
        aggregation={query.aggregation}
        dimensions={dimensions.value}
        filters={query.filters ?? []}
        onChange={(filters: Filter[]) =>
          // A filter still being written (no dimension or value yet) does not run the query.
          change(
            { filters: filters.length ? filters : undefined },
            filters.every((f) => f.dim && f.value)
          )
        }
        labelWidth={LABEL_WIDTH}
      />

      <InlineFieldRow>
        <InlineField label="Series" labelWidth={LABEL_WIDTH}>
          <RadioButtonGroup<Series>
            options={SERIES_OPTIONS}
            value={series}
            onChange={(v) => change({ groupBy: v === 'group' ? [] : undefined })}
          />
        </InlineField>
        {series === 'group' && (
          <InlineField label="Group by" tooltip="No dimension: every key merged into one series">
            <MultiSelect<string>
              aria-label="Group by dimensions"
              width={40}
              placeholder="(none: all keys merged)"
              options={toOptions(dimensions.value, variables)}
              value={query.groupBy}
              allowCustomValue
              onChange={(vs) => change({ groupBy: vs.map((v) => v.value!).filter(Boolean) })}
            />
          </InlineField>
        )}
      </InlineFieldRow>

      <InlineFieldRow>
        {queryType !== 'anomalies' && (
          <InlineField
            label="Legend"
            labelWidth={LABEL_WIDTH}
            tooltip="Series name: {{dimension}} and {{measure}} are replaced, e.g. {{endpoint}} {{measure}}"
          >
            <Input aria-label="Legend" width={30} placeholder="auto" {...text('legendFormat')} />
          </InlineField>
        )}
        {queryType === 'range' && (
          <InlineField label="Step" tooltip="Overrides Grafana's interval (at least the window size), e.g. 5m">
            <Input aria-label="Step" width={10} placeholder="auto" {...text('step')} />
          </InlineField>
        )}
        {queryType === 'topk' && (
          <>
            <InlineField label="K" tooltip="How many keys">
              <Input
                aria-label="K"
                type="number"
                width={8}
                min={1}
                key={`k-${query.k ?? ''}`}
                defaultValue={query.k ?? DEFAULT_K}
                onBlur={(e) => {
                  const k = parseInt(e.currentTarget.value, 10);
                  change({ k: k > 0 ? k : DEFAULT_K });
                }}
              />
            </InlineField>
            <InlineField label="Bottom" tooltip="The smallest values instead of the largest">
              <InlineSwitch
                aria-label="Bottom"
                value={!!query.bottom}
                onChange={(e) => change({ bottom: e.currentTarget.checked || undefined })}
              />
            </InlineField>
          </>
        )}
        {queryType === 'anomalies' && (
          <InlineField
            label="Threshold"
            labelWidth={LABEL_WIDTH}
            tooltip="A window becomes an annotation when the |z-score| of its rate, error ratio or P99 over the previous 10 windows passes this"
          >
            <Input
              aria-label="Threshold"
              type="number"
              width={8}
              min={0}
              step={0.5}
              key={`t-${query.threshold ?? ''}`}
              defaultValue={query.threshold ?? DEFAULT_THRESHOLD}
              onBlur={(e) => {
                const t = parseFloat(e.currentTarget.value);
                change({ threshold: t > 0 ? t : DEFAULT_THRESHOLD });
              }}
            />
          </InlineField>
        )}
      </InlineFieldRow>

      <InlineFieldRow>
        {queryType !== 'anomalies' && (
          <InlineField
            label="Live"
            labelWidth={LABEL_WIDTH}
            tooltip="Update the panel as windows change, over Grafana Live (within a second). Needs a step no longer than the window: the panel says when it is not live."
          >
            <InlineSwitch
              aria-label="Live"
              value={!!query.live}
              onChange={(e) => change({ live: e.currentTarget.checked || undefined })}
            />
          </InlineField>
        )}
        {(queryType === 'range' || queryType === 'latest') && (
          <InlineField
            label="Closed only"
            tooltip="Leave out windows still open: an open window's count and rate cover only part of its span, and would read as a drop. A live query then updates as windows close."
          >
            <InlineSwitch
              aria-label="Closed only"
              value={!!query.closedOnly}
              onChange={(e) => change({ closedOnly: e.currentTarget.checked || undefined })}
            />
          </InlineField>
        )}
        <InlineField
          label="Stale"
          labelWidth={queryType === 'anomalies' ? LABEL_WIDTH : undefined}
          tooltip="Read partitions still restoring instead of failing with 503 (the answer lists them)"
        >
          <InlineSwitch
            aria-label="Stale"
            value={!!query.stale}
            onChange={(e) => change({ stale: e.currentTarget.checked || undefined })}
          />
        </InlineField>
      </InlineFieldRow>
    </div>
  );
}
