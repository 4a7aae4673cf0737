import { DataFrame, DataQueryResponse, FieldType, Labels } from '@grafana/data';

import { KwindowQuery } from './types';

// The legend rules of the backend (pkg/plugin/legend.go): {{dim}} is the
// series' value of a dimension, {{measure}} the measure; a name the series
// lacks renders empty.
const LEGEND_VAR = /\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}/g;

export function renderLegend(format: string, labels: Labels | undefined, measure: string): string {
  return format.replace(LEGEND_VAR, (_, name: string) => (name === 'measure' ? measure : labels?.[name] ?? ''));
}

/**
 * applyLiveLegends names the series of a live query's streamed frames by its
 * legend format, as the backend names those of a frame it answers.
 *
 * The backend cannot: a streamed frame has one schema per measure, which
 * Grafana copies for each key (labels) that shows up, with the same config
 * object. So each field gets a config of its own here, on every response
 * (Grafana rebuilds the frame when a new key arrives). A frame is matched to
 * its query by refId; a channel shared by several queries keeps the refId of
 * the first, so a request with a single live query takes that one.
 */
export function applyLiveLegends(response: DataQueryResponse, live: KwindowQuery[]): DataQueryResponse {
  for (const frame of (response.data ?? []) as DataFrame[]) {
    if (!frame?.meta?.channel) {
      continue;
    }
    const q = live.find((t) => t.refId === frame.refId) ?? (live.length === 1 ? live[0] : undefined);
    if (!q?.legendFormat) {
      continue;
    }
    for (const field of frame.fields) {
      if (field.type === FieldType.time) {
        continue;
      }
      const name = renderLegend(q.legendFormat, field.labels, field.name);
      if (field.config?.displayNameFromDS !== name) {
        field.config = { ...field.config, displayNameFromDS: name };
      }
    }
  }
  return response;
}
