// The query API and /metrics, on the page's own origin. URLs are relative to the
// page (/ui/), so a reverse proxy's path prefix is kept; TLS and basic-auth
// credentials come with every same-origin request. The API's bearer token, when
// the server asks for one, lives in sessionStorage: gone when the tab closes.

import { SSEParser, type SSEEvent } from './sse';
import type { Envelope } from './types';

const TOKEN_KEY = 'kwindow.api-token';

export class Unauthorized extends Error {}

export const token = {
  get: (): string => sessionStorage.getItem(TOKEN_KEY) ?? '',
  set: (t: string) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export function url(path: string, params?: Record<string, string | string[]>): string {
  const u = new URL('../' + path, document.baseURI);
  for (const [k, v] of Object.entries(params ?? {})) for (const x of Array.isArray(v) ? v : [v]) u.searchParams.append(k, x);
  return u.toString();
}

function headers(accept: string): HeadersInit {
  const h: Record<string, string> = { Accept: accept };
  const t = token.get();
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

/** api GETs /api/v1/<path> and returns the envelope's data. */
export async function api<T>(path: string, params?: Record<string, string | string[]>, signal?: AbortSignal): Promise<T> {
  const res = await fetch(url('api/v1/' + path, params), { headers: headers('application/json'), signal });
  if (res.status === 401) throw new Unauthorized('the query API needs a bearer token');
  const env = (await res.json()) as Envelope<T>;
  if (env.status !== 'success') throw new Error(`${path}: ${env.error?.message ?? res.statusText}`);
  return env.data as T;
}

/** metrics GETs /metrics in the text format (it never needs the API's token). */
export async function metrics(signal?: AbortSignal): Promise<string> {
  const res = await fetch(url('metrics'), { headers: { Accept: 'text/plain;version=0.0.4' }, signal });
  if (!res.ok) throw new Error(`/metrics: HTTP ${res.status}`);
  return res.text();
}

/**
 * stream reads /api/v1/stream with fetch, so that the bearer token goes in the
 * Authorization header (EventSource cannot send one), and calls onEvent for
 * each event until the server ends the stream or signal aborts. It resolves
 * when the stream ends.
 */
export async function stream(params: Record<string, string | string[]>, onEvent: (e: SSEEvent) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(url('api/v1/stream', params), { headers: headers('text/event-stream'), signal, cache: 'no-store' });
  if (res.status === 401) throw new Unauthorized('the query API needs a bearer token');
  if (!res.ok || !res.body) throw new Error(`stream: HTTP ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SSEParser();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    for (const e of parser.push(value)) onEvent(e);
  }
}
