import { CustomVariableSupport, DataQueryRequest, DataQueryResponse } from '@grafana/data';
import { from, map, Observable } from 'rxjs';

import { VariableQueryEditor } from './components/VariableQueryEditor';
import type { DataSource } from './datasource';
import { KwindowVariableQuery } from './types';

// KwindowVariableSupport is Grafana 10's way for a data source to feed query
// variables: its own editor, and values from the "values" resource.
export class KwindowVariableSupport extends CustomVariableSupport<DataSource, KwindowVariableQuery> {
  editor = VariableQueryEditor;

  constructor(private readonly datasource: DataSource) {
    super();
    // Grafana calls variables.query as a bare function (runRequest's
    // queryFunction), without this.
    this.query = this.query.bind(this);
  }

  query(request: DataQueryRequest<KwindowVariableQuery>): Observable<DataQueryResponse> {
    const q = request.targets[0];
    return from(this.datasource.metricFindQuery(q, { scopedVars: request.scopedVars })).pipe(
      map((values) => ({ data: values }))
    );
  }
}
