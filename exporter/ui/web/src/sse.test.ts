import { describe, expect, it } from 'vitest';
import { SSEParser } from './sse';

describe('SSEParser', () => {
  it('reads events, skips comments, keeps a split line', () => {
    const p = new SSEParser();
    expect(p.push(': subscribed\n\nevent: upd')).toEqual([]);
    expect(p.push('ate\ndata: {"a":1}\n\n: heartbeat\n\nevent: dropped\ndata: {"reason":"x"}\n')).toEqual([
      { event: 'update', data: '{"a":1}' },
    ]);
    expect(p.push('\n')).toEqual([{ event: 'dropped', data: '{"reason":"x"}' }]);
  });
  it('joins data lines, defaults the event name, takes CRLF and CR', () => {
    const p = new SSEParser();
    expect(p.push('data: a\r\ndata:b\r\n\r\ndata: c\r')).toEqual([{ event: 'message', data: 'a\nb' }]);
    expect(p.push('\n\r\n')).toEqual([{ event: 'message', data: 'c' }]);
  });
  it('drops an event without data and resets the name after each event', () => {
    const p = new SSEParser();
    expect(p.push('event: update\n\ndata: x\n\n')).toEqual([{ event: 'message', data: 'x' }]);
  });
  it('reads every event of a chunk one byte at a time', () => {
    const p = new SSEParser();
    const text = 'event: update\ndata: {"k":"v"}\n\nevent: update\ndata: 2\n\n';
    const got = [...text].flatMap((c) => p.push(c));
    expect(got).toEqual([
      { event: 'update', data: '{"k":"v"}' },
      { event: 'update', data: '2' },
    ]);
  });
});
