import { describe, expect, it } from 'vitest';
import { formatCount, formatLatency, formatPercent, formatRate, formatterFor } from './format';

const sp = (s: string) => s.replace(/ /g, '\u00a0');

describe('formatRate', () => {
  it.each([
    [40000, '40k req/s'],
    [39876.5, '39.9k req/s'],
    [1234, '1234 req/s'],
    [666.6666, '667 req/s'],
    [12.34, '12.3 req/s'],
    [0.5, '0.5 req/s'],
    [0, '0 req/s'],
    [2.5e6, '2.5M req/s'],
  ])('%d', (v, want) => expect(formatRate(v)).toBe(sp(want)));
  it('no value', () => {
    expect(formatRate(null)).toBe('–');
    expect(formatRate(NaN)).toBe('–');
  });
});

describe('formatPercent', () => {
  it.each([
    [0, '0 %'],
    [0.0123, '1.23 %'],
    [0.05, '5 %'],
    [0.5, '50 %'],
    [1, '100 %'],
    [0.00001234, '0.0012 %'],
    [0.123456, '12.3 %'],
  ])('%d', (v, want) => expect(formatPercent(v)).toBe(sp(want)));
});

describe('formatLatency', () => {
  it.each([
    [0.0123, '12.3 ms'],
    [0.25, '250 ms'],
    [1.5, '1.5 s'],
    [0.00042, '420 µs'],
    [0.001, '1 ms'],
    [0, '0 ms'],
    [12.345, '12.3 s'],
  ])('%d s', (v, want) => expect(formatLatency(v)).toBe(sp(want)));
});

describe('formatterFor', () => {
  it('picks the unit from the measure name', () => {
    expect(formatterFor('rate')(100)).toBe(sp('100 req/s'));
    expect(formatterFor('error_ratio')(0.1)).toBe(sp('10 %'));
    expect(formatterFor('client_error_ratio')(0.1)).toBe(sp('10 %'));
    expect(formatterFor('p99')(0.1)).toBe(sp('100 ms'));
    expect(formatterFor('p99.9')(0.1)).toBe(sp('100 ms'));
    expect(formatterFor('count')(123456)).toBe('123.5k');
    expect(formatCount(7)).toBe('7');
  });
});
