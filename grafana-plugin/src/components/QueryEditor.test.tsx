import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import React from 'react';

import { newDataSource, withTemplateVariables } from '../test-utils';
import { KwindowQuery } from '../types';
import { QueryEditor } from './QueryEditor';

// No pause between simulated events: the editors have no timers to wait for.
const user = userEvent.setup({ delay: null });

// openSelect opens a @grafana/ui Select by its aria-label and returns the
// texts of its options.
async function openSelect(label: string): Promise<string[]> {
  await user.click(screen.getByLabelText(label));
  const options = await screen.findAllByLabelText('Select option');
  // An option is its label, then its description.
  return options.map((o) => o.querySelector('span')?.textContent ?? '');
}

function setup(query: KwindowQuery) {
  withTemplateVariables([{ name: 'endpoint', value: '/api/cart' }]);
  const { ds, calls } = newDataSource();
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  const utils = render(<QueryEditor datasource={ds} query={query} onChange={onChange} onRunQuery={onRunQuery} />);
  return { ds, calls, onChange, onRunQuery, ...utils };
}

describe('QueryEditor', () => {
  it('lists the aggregations of the resource and runs the query when one is chosen', async () => {
    const { onChange, onRunQuery } = setup({ refId: 'A', queryType: 'range', measures: ['rate'] });
    const options = await openSelect('Aggregation');
    expect(options).toEqual(expect.arrayContaining(['endpoint_1m', 'status_10s', '$endpoint']));
    await user.click(screen.getByText('endpoint_1m'));
    expect(onChange).toHaveBeenLastCalledWith({
      refId: 'A',
      queryType: 'range',
      aggregation: 'endpoint_1m',
      measures: ['rate'],
    });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('offers the measures of the chosen aggregation, with quantiles when it keeps a sketch', async () => {
    setup({ refId: 'A', aggregation: 'endpoint_1m', measures: [] });
    await waitFor(() => expect(screen.getByLabelText('Quantile')).toBeEnabled());
    const options = await openSelect('Measures');
    expect(options).toEqual(['count', 'rate', 'errors', 'error_ratio', 'p50', 'p90', 'p95', 'p99', 'p99.9']);
  });

  it('offers no quantile for an aggregation without a sketch', async () => {
    setup({ refId: 'A', aggregation: 'status_10s' });
    await waitFor(() => expect(screen.getByLabelText('Quantile')).toBeDisabled());
    const options = await openSelect('Measures');
    expect(options).toEqual(['count', 'rate']);
  });

  it('drops the measures the new aggregation cannot answer', async () => {
    const { onChange } = setup({ refId: 'A', aggregation: 'endpoint_1m', measures: ['p99', 'rate'], quantile: 0.999 });
    await openSelect('Aggregation');
    await user.click(screen.getByText('status_10s'));
    expect(onChange).toHaveBeenLastCalledWith({
      refId: 'A',
      aggregation: 'status_10s',
      measures: ['rate'],
      quantile: undefined,
    });
  });

  it('adds a measure and a quantile', async () => {
    const { onChange, onRunQuery } = setup({ refId: 'A', aggregation: 'endpoint_1m', measures: ['rate'] });
    await openSelect('Measures');
    await user.click(screen.getByText('p99'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', aggregation: 'endpoint_1m', measures: ['rate', 'p99'] });
    const quantile = screen.getByLabelText('Quantile');
    await user.type(quantile, '0.999');
    expect(onRunQuery).toHaveBeenCalledTimes(1);
    await user.tab();
    expect(onChange).toHaveBeenLastCalledWith({
      refId: 'A',
      aggregation: 'endpoint_1m',
      measures: ['rate'],
      quantile: 0.999,
    });
    expect(onRunQuery).toHaveBeenCalledTimes(2);
  });

  it('builds a filter from the dimensions and values resources', async () => {
    const { onChange, calls, rerender, ds, onRunQuery } = setup({ refId: 'A', aggregation: 'endpoint_1m' });
    await user.click(screen.getByRole('button', { name: 'Add filter' }));
    let query = onChange.mock.lastCall[0];
    expect(query.filters).toEqual([{ dim: '', op: '=', value: '' }]);
    expect(onRunQuery).not.toHaveBeenCalled();

    rerender(<QueryEditor datasource={ds} query={query} onChange={onChange} onRunQuery={onRunQuery} />);
    const dims = await openSelect('Filter 1 dimension');
    expect(dims).toEqual(['endpoint', 'region', '$endpoint']);
    await user.click(screen.getByText('region'));
    query = onChange.mock.lastCall[0];

    rerender(<QueryEditor datasource={ds} query={query} onChange={onChange} onRunQuery={onRunQuery} />);
    const values = await openSelect('Filter 1 value');
    expect(values).toEqual(['eu-west', 'us-east', '$endpoint']);
    expect(calls.find((c) => c.path === 'values')?.params).toEqual({ aggregation: 'endpoint_1m', dimension: 'region' });
    expect(onRunQuery).not.toHaveBeenCalled();
    await user.click(screen.getByText('eu-west'));
    expect(onRunQuery).toHaveBeenCalledTimes(1);
    query = onChange.mock.lastCall[0];

    rerender(<QueryEditor datasource={ds} query={query} onChange={onChange} onRunQuery={onRunQuery} />);
    await openSelect('Filter 1 operator');
    await user.click(screen.getByText('=~'));
    expect(onChange.mock.lastCall[0]).toEqual({
      refId: 'A',
      aggregation: 'endpoint_1m',
      filters: [{ dim: 'region', op: '=~', value: 'eu-west' }],
    });

    await user.click(screen.getByRole('button', { name: 'Remove filter 1' }));
    expect(onChange.mock.lastCall[0].filters).toBeUndefined();
  });

  it('groups by dimensions, or merges every key', async () => {
    const { onChange, rerender, ds, onRunQuery } = setup({ refId: 'A', aggregation: 'endpoint_1m' });
    expect(screen.queryByLabelText('Group by dimensions')).not.toBeInTheDocument();
    await user.click(screen.getByLabelText('Group by'));
    expect(onChange.mock.lastCall[0].groupBy).toEqual([]);
    rerender(
      <QueryEditor datasource={ds} query={onChange.mock.lastCall[0]} onChange={onChange} onRunQuery={onRunQuery} />
    );
    const dims = await openSelect('Group by dimensions');
    expect(dims).toEqual(['endpoint', 'region', '$endpoint']);
    await user.click(screen.getByText('endpoint'));
    expect(onChange.mock.lastCall[0].groupBy).toEqual(['endpoint']);
  });

  it('runs text fields on blur, not on every key', async () => {
    const { onChange, onRunQuery } = setup({ refId: 'A', aggregation: 'endpoint_1m' });
    await user.type(screen.getByLabelText('Legend'), 'x');
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', aggregation: 'endpoint_1m', legendFormat: 'x' });
    expect(onRunQuery).not.toHaveBeenCalled();
    await user.tab();
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('shows k and bottom for top k, and the live and stale toggles', async () => {
    const { onChange } = setup({ refId: 'A', aggregation: 'endpoint_1m', queryType: 'topk' });
    expect(screen.queryByLabelText('Step')).not.toBeInTheDocument();
    const k = screen.getByLabelText('K');
    expect(k).toHaveValue(10);
    await user.clear(k);
    await user.type(k, '5');
    await user.tab();
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', aggregation: 'endpoint_1m', queryType: 'topk', k: 5 });
    await user.click(screen.getByLabelText('Bottom'));
    expect(onChange.mock.lastCall[0]).toMatchObject({ bottom: true });
    await user.click(screen.getByLabelText('Live'));
    expect(onChange.mock.lastCall[0]).toMatchObject({ live: true });
    await user.click(screen.getByLabelText('Stale'));
    expect(onChange.mock.lastCall[0]).toMatchObject({ stale: true });
  });

  it('offers closed windows only for range and latest queries', async () => {
    const { onChange, onRunQuery, rerender, ds } = setup({
      refId: 'A',
      aggregation: 'endpoint_1m',
      queryType: 'latest',
    });
    await user.click(screen.getByLabelText('Closed only'));
    expect(onChange).toHaveBeenLastCalledWith({
      refId: 'A',
      aggregation: 'endpoint_1m',
      queryType: 'latest',
      closedOnly: true,
    });
    expect(onRunQuery).toHaveBeenCalled();
    const props = { datasource: ds, onChange, onRunQuery };
    rerender(<QueryEditor {...props} query={{ refId: 'A', aggregation: 'endpoint_1m', queryType: 'range' }} />);
    expect(screen.getByLabelText('Closed only')).toBeInTheDocument();
    rerender(<QueryEditor {...props} query={{ refId: 'A', aggregation: 'endpoint_1m', queryType: 'topk' }} />);
    expect(screen.queryByLabelText('Closed only')).not.toBeInTheDocument();
  });

  it('switches the query type', async () => {
    const { onChange, onRunQuery } = setup({ refId: 'A', aggregation: 'endpoint_1m' });
    await user.click(screen.getByText('Latest'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', aggregation: 'endpoint_1m', queryType: 'latest' });
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('says why the aggregations could not be loaded', async () => {
    withTemplateVariables();
    const { ds } = newDataSource();
    (ds.getResource as jest.Mock).mockRejectedValue({ data: { message: 'kwindow: no instance answered' } });
    render(<QueryEditor datasource={ds} query={{ refId: 'A' }} onChange={jest.fn()} onRunQuery={jest.fn()} />);
    expect(await screen.findByText('kwindow: no instance answered')).toBeInTheDocument();
  });
});
