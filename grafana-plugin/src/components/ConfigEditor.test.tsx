import { DataSourceSettings } from '@grafana/data';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import React, { useState } from 'react';

import { KwindowOptions, KwindowSecureOptions } from '../types';
import { ConfigEditor } from './ConfigEditor';

// No pause between simulated events: the editors have no timers to wait for.
const user = userEvent.setup({ delay: null });

type Settings = DataSourceSettings<KwindowOptions, KwindowSecureOptions>;

function settings(patch: Partial<Settings> = {}): Settings {
  return {
    id: 1,
    uid: 'kwindow-uid',
    orgId: 1,
    name: 'kwindow',
    type: 'kwindow-kwindow-datasource',
    typeName: 'kwindow',
    typeLogoUrl: '',
    access: 'proxy',
    url: '',
    user: '',
    database: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    withCredentials: false,
    readOnly: false,
    jsonData: {},
    secureJsonFields: {},
    ...patch,
  };
}

// Harness keeps the settings in state, as Grafana's settings page does, and
// reports every change.
function Harness({ initial, onChange }: { initial: Settings; onChange: (s: Settings) => void }) {
  const [options, setOptions] = useState(initial);
  return (
    <ConfigEditor
      options={options}
      onOptionsChange={(o) => {
        setOptions(o);
        onChange(o);
      }}
    />
  );
}

describe('ConfigEditor', () => {
  it('stores the token in secureJsonData only', async () => {
    const onChange = jest.fn();
    render(<Harness initial={settings()} onChange={onChange} />);
    await user.type(screen.getByLabelText('Bearer token'), 's3cret');
    const last: Settings = onChange.mock.lastCall[0];
    expect(last.secureJsonData).toEqual({ token: 's3cret' });
    expect(JSON.stringify(last.jsonData)).not.toContain('s3cret');
    expect(JSON.stringify({ ...last, secureJsonData: undefined })).not.toContain('s3cret');
  });

  it('shows a configured token as configured, and resets it', async () => {
    const onChange = jest.fn();
    render(<Harness initial={settings({ secureJsonFields: { token: true } })} onChange={onChange} />);
    expect(screen.getByDisplayValue('configured')).toBeDisabled();
    await user.click(screen.getByRole('button', { name: 'Reset' }));
    const last: Settings = onChange.mock.lastCall[0];
    expect(last.secureJsonFields).toEqual({ token: false });
    expect(last.secureJsonData).toEqual({ token: '' });
    expect(screen.getByLabelText('Bearer token')).toBeEnabled();
  });

  it('keeps URLs in failover order and the timeout in jsonData', async () => {
    const onChange = jest.fn();
    render(<Harness initial={settings()} onChange={onChange} />);
    await user.type(screen.getByLabelText('URL 1'), 'http://kwindow-0:9897');
    await user.click(screen.getByRole('button', { name: 'Add failover URL' }));
    await user.type(screen.getByLabelText('URL 2'), 'http://kwindow-1:9897');
    await user.type(screen.getByLabelText('Timeout'), '10');
    expect(onChange.mock.lastCall[0].jsonData).toEqual({
      urls: ['http://kwindow-0:9897', 'http://kwindow-1:9897'],
      timeoutSeconds: 10,
    });

    await user.click(screen.getByRole('button', { name: 'Remove URL 1' }));
    expect(onChange.mock.lastCall[0].jsonData.urls).toEqual(['http://kwindow-1:9897']);
    expect(screen.queryByLabelText('URL 2')).not.toBeInTheDocument();
  });

  it('flags a URL that is not http(s)', async () => {
    render(<Harness initial={settings({ jsonData: { urls: ['kwindow-0:9897'] } })} onChange={jest.fn()} />);
    expect(screen.getByText('an http:// or https:// URL')).toBeInTheDocument();
  });
});
