import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import React from 'react';

import { newDataSource, withTemplateVariables } from '../test-utils';
import { KwindowVariableQuery } from '../types';
import { VariableQueryEditor } from './VariableQueryEditor';

// No pause between simulated events: the editors have no timers to wait for.
const user = userEvent.setup({ delay: null });

async function openSelect(label: string): Promise<string[]> {
  await user.click(screen.getByLabelText(label));
  const options = await screen.findAllByLabelText('Select option');
  return options.map((o) => o.querySelector('span')?.textContent ?? '');
}

describe('VariableQueryEditor', () => {
  beforeEach(() => withTemplateVariables([{ name: 'agg', value: 'endpoint_1m' }]));

  it('picks an aggregation, then one of its dimensions', async () => {
    const { ds } = newDataSource();
    const onChange = jest.fn();
    const { rerender } = render(
      <VariableQueryEditor datasource={ds} query={{ refId: 'v' }} onChange={onChange} onRunQuery={jest.fn()} />
    );
    expect(await openSelect('Variable aggregation')).toEqual(['endpoint_1m', 'status_10s', '$agg']);
    await user.click(screen.getByText('status_10s'));
    const query: KwindowVariableQuery = onChange.mock.lastCall[0];
    expect(query).toEqual({ refId: 'v', aggregation: 'status_10s' });

    rerender(<VariableQueryEditor datasource={ds} query={query} onChange={onChange} onRunQuery={jest.fn()} />);
    await waitFor(() => expect(ds.getResource).toHaveBeenCalledWith('dimensions', { aggregation: 'status_10s' }));
    expect(await openSelect('Variable dimension')).toEqual(['status', '$agg']);
    await user.click(screen.getByText('status'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'v', aggregation: 'status_10s', dimension: 'status' });
  });

  it('sets a prefix on blur, and filters on the other dimensions', async () => {
    const { ds } = newDataSource();
    const onChange = jest.fn();
    const query = { refId: 'v', aggregation: 'endpoint_1m', dimension: 'endpoint' };
    render(<VariableQueryEditor datasource={ds} query={query} onChange={onChange} onRunQuery={jest.fn()} />);
    await user.type(screen.getByLabelText('Variable prefix'), '/api/');
    expect(onChange).not.toHaveBeenCalled();
    await user.tab();
    expect(onChange).toHaveBeenLastCalledWith({ ...query, prefix: '/api/' });

    await user.click(screen.getByRole('button', { name: 'Add filter' }));
    expect(onChange.mock.lastCall[0].filters).toEqual([{ dim: '', op: '=', value: '' }]);
  });

  it('reads a query stored as text', async () => {
    const { ds } = newDataSource();
    render(
      <VariableQueryEditor
        datasource={ds}
        query={'endpoint_1m/region' as unknown as KwindowVariableQuery}
        onChange={jest.fn()}
        onRunQuery={jest.fn()}
      />
    );
    expect(await screen.findByText('endpoint_1m')).toBeInTheDocument();
    expect(screen.getByText('region')).toBeInTheDocument();
  });
});
