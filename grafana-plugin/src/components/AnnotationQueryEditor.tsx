import { AnnotationQuery, QueryEditorProps } from '@grafana/data';
import React from 'react';

import type { DataSource } from '../datasource';
import { KwindowQuery } from '../types';
import { QueryEditor } from './QueryEditor';

// AnnotationSupport.QueryEditor's props (@grafana/data declares the type but
// does not export it).
type Props = QueryEditorProps<DataSource, KwindowQuery> & {
  annotation?: AnnotationQuery<KwindowQuery>;
  onAnnotationChange?: (annotation: AnnotationQuery<KwindowQuery>) => void;
};

// AnnotationQueryEditor is the query editor for "anomalies": aggregation,
// filters, group-by and the threshold.
export function AnnotationQueryEditor({ annotation, onAnnotationChange, ...props }: Props) {
  const query: KwindowQuery = { ...props.query, queryType: 'anomalies' };
  return <QueryEditor {...props} query={query} anomalies />;
}
