import { AnnotationQuery, AnnotationSupport } from '@grafana/data';

import { AnnotationQueryEditor } from './components/AnnotationQueryEditor';
import { DEFAULT_THRESHOLD, KwindowQuery } from './types';

// Annotations are the backend's "anomalies" queries: windows whose anomaly
// score passes the threshold come back as a frame with time, timeEnd, text
// and tags, which Grafana turns into annotations itself.
export const KwindowAnnotations: AnnotationSupport<KwindowQuery> = {
  QueryEditor: AnnotationQueryEditor,
  getDefaultQuery: () => ({ queryType: 'anomalies', threshold: DEFAULT_THRESHOLD }),
  prepareQuery(anno: AnnotationQuery<KwindowQuery>): KwindowQuery | undefined {
    const target = anno.target;
    if (!target?.aggregation) {
      return undefined;
    }
    return {
      ...target,
      refId: target.refId || 'Anno',
      queryType: 'anomalies',
      threshold: target.threshold ?? DEFAULT_THRESHOLD,
    };
  },
};
