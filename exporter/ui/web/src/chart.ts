// A time-series panel on uPlot: one line per key, the open (partial) windows
// shaded, units on the axis and in the legend.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatClock } from './format';

/** Okabe & Ito's colour-blind-safe palette (2008), less black, which one of the themes cannot show. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#999999'];

function lastValue(ys: uPlot.AlignedData[number]): number | null {
  for (let i = ys.length - 1; i >= 0; i--) if (ys[i] != null) return ys[i] as number;
  return null;
}

const cssVar = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

export class Chart {
  private plot: uPlot | null = null;
  private keys: string[] = [];
  private partialFrom = Infinity;
  private step = 0;
  private colors: string[] = [];
  private data: (number | null)[][] = [[]];

  constructor(
    private readonly el: HTMLElement,
    private readonly format: (v: number | null) => string,
  ) {
    new ResizeObserver(() => this.plot?.setSize(this.size())).observe(el);
  }

  private size() {
    return { width: Math.max(200, this.el.clientWidth), height: 200 };
  }

  /** set draws data (uPlot's aligned data: x in unix seconds, one array per key, a point per step starting at x); partialFrom is where the open windows start. */
  set(keys: string[], colors: string[], data: (number | null)[][], partialFrom: number, step: number) {
    this.partialFrom = partialFrom;
    this.step = step;
    this.colors = colors;
    this.data = data;
    if (this.plot && keys.length === this.keys.length && keys.every((k, i) => k === this.keys[i])) {
      this.plot.setData(data as uPlot.AlignedData);
      return;
    }
    this.rebuild(keys, colors, data);
  }

  /** rebuild draws from scratch: new keys, or the colour scheme changed. */
  rebuild(keys: string[], colors: string[], data: (number | null)[][]) {
    this.plot?.destroy();
    this.keys = keys;
    const fg = cssVar('--fg-muted');
    const grid = cssVar('--grid');
    const shade = cssVar('--partial');
    const fmt = this.format;
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const opts: uPlot.Options = {
      ...this.size(),
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      // The x axis runs to the end of the last step, so that its open window shows.
      scales: { x: { time: true, range: (_u, min, max) => [min, max + this.step] }, y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
      axes: [{ ...axis, values: (_u, vals) => vals.map((v) => formatClock(v * 1000).slice(0, 5)) }, { ...axis, size: 64, values: (_u, vals) => vals.map((v) => fmt(v).replace(/\u00a0req\/s$/, '')) }],
      series: [
        { label: 'time', value: (_u: uPlot, v: number | null) => (v == null ? '–' : formatClock(v * 1000)) },
        ...keys.map((k, i) => ({
          label: k,
          stroke: colors[i],
          width: 1.5,
          spanGaps: false,
          points: { show: false },
          // Off the chart, the legend shows each key's latest value.
          value: (u: uPlot, v: number | null, si: number) => fmt(u.cursor.idx == null ? lastValue(u.data[si]) : v),
        })),
      ],
      hooks: {
        drawClear: [
          (u: uPlot) => {
            if (!Number.isFinite(this.partialFrom)) return;
            const x0 = u.valToPos(this.partialFrom, 'x', true);
            const left = Math.max(u.bbox.left, x0);
            const right = u.bbox.left + u.bbox.width;
            if (left >= right) return;
            u.ctx.save();
            u.ctx.fillStyle = shade;
            u.ctx.fillRect(left, u.bbox.top, right - left, u.bbox.height);
            u.ctx.restore();
          },
        ],
      },
    };
    this.el.replaceChildren();
    this.plot = new uPlot(opts, data as uPlot.AlignedData, this.el);
  }

  /** retheme redraws in the current colour scheme's axis and grid colours. */
  retheme() {
    if (this.plot) this.rebuild(this.keys, this.colors, this.data);
  }
}
