import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { DataSource } from './datasource';
import { KwindowOptions, KwindowQuery } from './types';

// Template variables (DataSource.variables) and annotations
// (DataSource.annotations) are set up by the data source itself, the
// Grafana 10 way.
export const plugin = new DataSourcePlugin<DataSource, KwindowQuery, KwindowOptions>(DataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
