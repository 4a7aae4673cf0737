import { SelectableValue } from '@grafana/data';
import { Button, InlineField, InlineFieldRow, Select } from '@grafana/ui';
import React, { useState } from 'react';

import type { DataSource } from '../datasource';
import { Filter, MATCH_OPS, MatchOp } from '../types';
import { errorText, toOptions, withValue } from './resources';

interface Props {
  datasource: DataSource;
  aggregation?: string;
  dimensions: string[];
  filters: Filter[];
  onChange: (filters: Filter[]) => void;
  labelWidth?: number;
}

const OP_OPTIONS: Array<SelectableValue<MatchOp>> = MATCH_OPS.map((op) => ({
  label: op,
  value: op,
  description: { '=': 'equals', '!=': 'not equal', '=~': 'matches regex', '!~': 'does not match regex' }[op],
}));

// FiltersEditor edits the match[] filters: dimension, operator and value, the
// value from a dropdown of the dimension's values (resource "values", asked
// when the dropdown opens, narrowed by the other filters) or typed.
export function FiltersEditor({ datasource, aggregation, dimensions, filters, onChange, labelWidth = 14 }: Props) {
  const set = (i: number, f: Filter) => onChange(filters.map((old, j) => (j === i ? f : old)));
  const remove = (i: number) => onChange(filters.filter((_, j) => j !== i));
  const add = () => onChange([...filters, { dim: '', op: '=', value: '' }]);

  return (
    <>
      {filters.map((f, i) => (
        <FilterRow
          key={i}
          index={i}
          datasource={datasource}
          aggregation={aggregation}
          dimensions={dimensions}
          filter={f}
          others={filters.filter((_, j) => j !== i)}
          onChange={(nf) => set(i, nf)}
          onRemove={() => remove(i)}
          labelWidth={labelWidth}
        />
      ))}
      <InlineFieldRow>
        <InlineField label={filters.length ? ' ' : 'Filters'} labelWidth={labelWidth} transparent={filters.length > 0}>
          <Button variant="secondary" size="sm" icon="plus" onClick={add} aria-label="Add filter">
            Filter
          </Button>
        </InlineField>
      </InlineFieldRow>
    </>
  );
}

interface RowProps {
  index: number;
  datasource: DataSource;
  aggregation?: string;
  dimensions: string[];
  filter: Filter;
  others: Filter[];
  onChange: (f: Filter) => void;
  onRemove: () => void;
  labelWidth: number;
}

function FilterRow({
  index,
  datasource,
  aggregation,
  dimensions,
  filter,
  others,
  onChange,
  onRemove,
  labelWidth,
}: RowProps) {
  const [values, setValues] = useState<string[]>([]);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string>();
  const variables = datasource.getVariableNames();

  const loadValues = () => {
    if (!aggregation || !filter.dim) {
      return;
    }
    setLoading(true);
    datasource
      .getValues({
        refId: 'filter',
        aggregation,
        dimension: filter.dim,
        filters: others.filter((o) => o.dim && o.value),
      })
      .then(
        (v) => {
          setValues(v);
          setError(undefined);
        },
        (err) => setError(errorText(err))
      )
      .finally(() => setLoading(false));
  };

  return (
    <InlineFieldRow>
      <InlineField label={index === 0 ? 'Filters' : ' '} labelWidth={labelWidth} transparent={index > 0}>
        <Select
          aria-label={`Filter ${index + 1} dimension`}
          width={20}
          placeholder="dimension"
          options={withValue(toOptions(dimensions, variables), filter.dim)}
          value={filter.dim || null}
          allowCustomValue
          onChange={(v) => onChange({ ...filter, dim: v?.value ?? '' })}
        />
      </InlineField>
      <Select
        aria-label={`Filter ${index + 1} operator`}
        width={8}
        options={OP_OPTIONS}
        value={filter.op}
        onChange={(v) => onChange({ ...filter, op: v?.value ?? '=' })}
      />
      <InlineField invalid={!!error} error={error}>
        <Select
          aria-label={`Filter ${index + 1} value`}
          width={30}
          placeholder="value"
          options={withValue(toOptions(values, variables), filter.value)}
          value={filter.value || null}
          allowCustomValue
          isLoading={loading}
          onOpenMenu={loadValues}
          onChange={(v) => onChange({ ...filter, value: v?.value ?? '' })}
        />
      </InlineField>
      <Button
        variant="secondary"
        size="md"
        icon="trash-alt"
        aria-label={`Remove filter ${index + 1}`}
        onClick={onRemove}
      />
    </InlineFieldRow>
  );
}
