// Anomalous keys: those whose anomaly score (kwindow_<aggregation>_anomaly_score,
// a z-score of the key's last closed window) passes the alert threshold.

import type { Sample } from './prom';
import { keyOf } from './series';

/**
 * THRESHOLD is the anomaly alerts' threshold in alerts/kwindow.rules.yml
 * (KwindowLatencyAnomaly, KwindowErrorRatioAnomaly, KwindowTrafficSpike: score > 4).
 * A test of the Go package exporter/ui reads the rules file and fails if they differ.
 */
export const THRESHOLD = 4;

export interface Anomaly {
  measure: string;
  score: number;
}

export function scoreMetric(aggregation: string): string {
  return `kwindow_${aggregation}_anomaly_score`;
}

/** anomalies maps each key past the threshold to its anomalous measures, highest score first. */
export function anomalies(samples: Sample[], aggregation: string, groupBy: string[], threshold = THRESHOLD): Map<string, Anomaly[]> {
  const name = scoreMetric(aggregation);
  const out = new Map<string, Anomaly[]>();
  for (const s of samples) {
    if (s.name !== name || !(s.value > threshold)) continue;
    const k = keyOf(s.labels, groupBy);
    const list = out.get(k) ?? [];
    list.push({ measure: s.labels.measure ?? '', score: s.value });
    list.sort((a, b) => b.score - a.score);
    out.set(k, list);
  }
  return out;
}
