import { QueryEditorProps } from '@grafana/data';
import { InlineField, InlineFieldRow, Input, Select } from '@grafana/ui';
import React, { useState } from 'react';

import type { DataSource } from '../datasource';
import { parseVariableQuery } from '../template';
import { KwindowOptions, KwindowQuery, KwindowVariableQuery } from '../types';
import { FiltersEditor } from './FiltersEditor';
import { toOptions, useAggregations, useDimensions, withValue } from './resources';

type Props = QueryEditorProps<DataSource, KwindowQuery, KwindowOptions, KwindowVariableQuery>;

const LABEL_WIDTH = 14;

// VariableQueryEditor defines a query variable: the values of one dimension of
// an aggregation, optionally with a prefix and filters on the other dimensions.
export function VariableQueryEditor({ datasource, query: raw, onChange }: Props) {
  // A variable made elsewhere may hold the text form "aggregation/dimension".
  const query: KwindowVariableQuery = typeof raw === 'string' ? parseVariableQuery(raw) : raw ?? { refId: 'variable' };
  const aggregations = useAggregations(datasource);
  const dimensions = useDimensions(datasource, query.aggregation);
  const variables = datasource.getVariableNames();
  const [prefix, setPrefix] = useState(query.prefix ?? '');

  const change = (patch: Partial<KwindowVariableQuery>) =>
    onChange({ ...query, refId: query.refId || 'variable', ...patch });

  return (
    <>
      <InlineFieldRow>
        <InlineField
          label="Aggregation"
          labelWidth={LABEL_WIDTH}
          invalid={!!aggregations.error}
          error={aggregations.error}
        >
          <Select
            aria-label="Variable aggregation"
            width={30}
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
            onChange={(v) => change({ aggregation: v?.value ?? '' })}
          />
        </InlineField>
        <InlineField label="Dimension" tooltip="The variable's values are this dimension's values">
          <Select
            aria-label="Variable dimension"
            width={24}
            isLoading={dimensions.loading}
            options={withValue(toOptions(dimensions.value, variables), query.dimension)}
            value={query.dimension || null}
            allowCustomValue
            onChange={(v) => change({ dimension: v?.value ?? '' })}
          />
        </InlineField>
        <InlineField label="Prefix" tooltip="Only values that start with it">
          <Input
            aria-label="Variable prefix"
            width={20}
            value={prefix}
            onChange={(e) => setPrefix(e.currentTarget.value)}
            onBlur={() => change({ prefix: prefix || undefined })}
          />
        </InlineField>
      </InlineFieldRow>
      <FiltersEditor
        datasource={datasource}
        aggregation={query.aggregation}
        dimensions={dimensions.value.filter((d) => d !== query.dimension)}
        filters={query.filters ?? []}
        onChange={(filters) => change({ filters: filters.length ? filters : undefined })}
        labelWidth={LABEL_WIDTH}
      />
    </>
  );
}
