import { DataFrame, DataQueryRequest, dateTime, FieldType, MutableDataFrame } from '@grafana/data';
import { DataSourceWithBackend } from '@grafana/runtime';
import { lastValueFrom, of } from 'rxjs';

import { DataSource } from './datasource';
import { applyLiveLegends, renderLegend } from './legend';
import { instanceSettings, withTemplateVariables } from './test-utils';
import { KwindowQuery } from './types';

// streamedFrame is a live query's frame as Grafana's streaming buffer hands it
// to a panel: the labels column turned into labelled fields, one set per key,
// all fields of a measure sharing the config object of its schema.
function streamedFrame(refId: string, measures: string[], keys: string[]): DataFrame {
  const shared = Object.fromEntries(measures.map((m) => [m, { unit: 'reqps' }]));
  const frame = new MutableDataFrame({ refId, fields: [{ name: 'time', type: FieldType.time, values: [1000] }] });
  for (const k of keys) {
    for (const m of measures) {
      frame.addField({ name: m, type: FieldType.number, values: [1], labels: { endpoint: k } });
      frame.fields[frame.fields.length - 1].config = shared[m];
    }
  }
  frame.meta = { channel: 'ds/kwindow/stream/e30' };
  return frame;
}

const names = (f: DataFrame) => f.fields.slice(1).map((x) => x.config.displayNameFromDS);

describe('renderLegend', () => {
  it('replaces {{dim}} and {{measure}} as the backend does; a missing dimension is empty', () => {
    expect(renderLegend('{{endpoint}} {{ measure }}', { endpoint: '/a' }, 'p99')).toBe('/a p99');
    expect(renderLegend('{{region}}|{{endpoint}}', { endpoint: '/a' }, 'rate')).toBe('|/a');
    expect(renderLegend('requests/s', {}, 'rate')).toBe('requests/s');
    expect(renderLegend('{{endpoint}}', undefined, 'rate')).toBe('');
  });
});

describe('applyLiveLegends', () => {
  it('names every key of a streamed frame on its own, though their configs are one object', () => {
    const frame = streamedFrame('A', ['p50', 'p99'], ['/a', '/b']);
    applyLiveLegends({ data: [frame] }, [{ refId: 'A', live: true, legendFormat: '{{endpoint}} {{measure}}' }]);
    expect(names(frame)).toEqual(['/a p50', '/a p99', '/b p50', '/b p99']);
    expect(frame.fields[0].config.displayNameFromDS).toBeUndefined();
    expect(frame.fields[1].config.unit).toBe('reqps');
  });

  it('leaves frames that are not streamed, and queries without a legend, alone', () => {
    const frame = streamedFrame('A', ['rate'], ['/a']);
    frame.meta = {};
    applyLiveLegends({ data: [frame] }, [{ refId: 'A', live: true, legendFormat: '{{endpoint}}' }]);
    const noLegend = streamedFrame('A', ['rate'], ['/a']);
    applyLiveLegends({ data: [noLegend] }, [{ refId: 'A', live: true }]);
    expect([...names(frame), ...names(noLegend)]).toEqual([undefined, undefined]);
  });

  it('matches a frame by refId; one whose channel another query opened goes to the only live query', () => {
    const a = streamedFrame('A', ['rate'], ['/a']);
    const b = streamedFrame('B', ['rate'], ['/a']);
    applyLiveLegends({ data: [a, b] }, [
      { refId: 'A', live: true, legendFormat: 'A {{endpoint}}' },
      { refId: 'B', live: true, legendFormat: 'B {{endpoint}}' },
    ]);
    const other = streamedFrame('X', ['rate'], ['/a']);
    applyLiveLegends({ data: [other] }, [{ refId: 'A', live: true, legendFormat: 'only {{endpoint}}' }]);
    expect([...names(a), ...names(b), ...names(other)]).toEqual(['A /a', 'B /a', 'only /a']);
  });
});

describe('DataSource.query', () => {
  it('applies the interpolated legend format to the streamed frames of live queries', async () => {
    withTemplateVariables([{ name: 'suffix', value: 'req/s' }]);
    const frame = streamedFrame('A', ['rate'], ['/a', '/b']);
    const spy = jest.spyOn(DataSourceWithBackend.prototype, 'query').mockReturnValue(of({ data: [frame] }));
    const ds = new DataSource(instanceSettings);
    const request = {
      targets: [{ refId: 'A', aggregation: 'endpoint_1m', live: true, legendFormat: '{{endpoint}} $suffix' }],
      range: { from: dateTime(0), to: dateTime(1000), raw: { from: 'now-5m', to: 'now' } },
      scopedVars: {},
    } as unknown as DataQueryRequest<KwindowQuery>;
    const r = await lastValueFrom(ds.query(request));
    spy.mockRestore();
    expect(names(r.data[0])).toEqual(['/a req/s', '/b req/s']);
  });
});
