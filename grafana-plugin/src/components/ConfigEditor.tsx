import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { Button, FieldSet, InlineField, InlineFieldRow, Input, SecretInput } from '@grafana/ui';
import React, { ChangeEvent } from 'react';

import { DEFAULT_TIMEOUT_SECONDS, KwindowOptions, KwindowSecureOptions } from '../types';

type Props = DataSourcePluginOptionsEditorProps<KwindowOptions, KwindowSecureOptions>;

const LABEL_WIDTH = 20;

// ConfigEditor edits the data source's settings: the exporter URLs (tried in
// order), the request timeout, and the bearer token, which goes only to
// secureJsonData (Grafana encrypts it and never sends it back to the browser).
export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { jsonData, secureJsonFields } = options;
  const urls = jsonData.urls?.length ? jsonData.urls : [''];

  const setJson = (patch: Partial<KwindowOptions>) =>
    onOptionsChange({ ...options, jsonData: { ...jsonData, ...patch } });
  const setUrl = (i: number, url: string) => setJson({ urls: urls.map((u, j) => (j === i ? url : u)) });
  const removeUrl = (i: number) => setJson({ urls: urls.filter((_, j) => j !== i) });

  const onToken = (e: ChangeEvent<HTMLInputElement>) =>
    onOptionsChange({ ...options, secureJsonData: { ...options.secureJsonData, token: e.currentTarget.value } });
  const onResetToken = () =>
    onOptionsChange({
      ...options,
      secureJsonFields: { ...secureJsonFields, token: false },
      secureJsonData: { ...options.secureJsonData, token: '' },
    });

  return (
    <>
      <FieldSet label="kwindow API">
        <p>
          Any instance of a kwindow consumer group answers for the whole group: list one or more, and the data source
          tries them in this order when one does not answer. The address is the exporter&apos;s web listen address, e.g.{' '}
          <code>http://kwindow-0:9897</code> (the API is under <code>/api/v1</code>).
        </p>
        {urls.map((url, i) => (
          <InlineFieldRow key={i}>
            <InlineField
              label={i === 0 ? 'URL' : `Failover URL ${i}`}
              labelWidth={LABEL_WIDTH}
              required={i === 0}
              invalid={url !== '' && !/^https?:\/\/[^/]/.test(url)}
              error="an http:// or https:// URL"
            >
              <Input
                aria-label={`URL ${i + 1}`}
                width={40}
                placeholder="http://kwindow-0:9897"
                value={url}
                onChange={(e) => setUrl(i, e.currentTarget.value.trim())}
              />
            </InlineField>
            {urls.length > 1 && (
              <Button
                variant="secondary"
                icon="trash-alt"
                aria-label={`Remove URL ${i + 1}`}
                onClick={() => removeUrl(i)}
              />
            )}
          </InlineFieldRow>
        ))}
        <Button variant="secondary" size="sm" icon="plus" onClick={() => setJson({ urls: [...urls, ''] })}>
          Add failover URL
        </Button>
      </FieldSet>

      <FieldSet label="Requests">
        <InlineField
          label="Timeout (seconds)"
          labelWidth={LABEL_WIDTH}
          tooltip={`How long a query may take, failover included. Default ${DEFAULT_TIMEOUT_SECONDS}.`}
        >
          <Input
            aria-label="Timeout"
            type="number"
            width={10}
            min={1}
            placeholder={String(DEFAULT_TIMEOUT_SECONDS)}
            value={jsonData.timeoutSeconds ?? ''}
            onChange={(e) => {
              const n = parseInt(e.currentTarget.value, 10);
              setJson({ timeoutSeconds: n > 0 ? n : undefined });
            }}
          />
        </InlineField>
        <InlineField
          label="Bearer token"
          labelWidth={LABEL_WIDTH}
          tooltip="A line of the exporter's api.tokens_file. Leave empty when the API has no tokens file."
        >
          <SecretInput
            aria-label="Bearer token"
            width={40}
            placeholder="token"
            isConfigured={!!secureJsonFields?.token}
            value={options.secureJsonData?.token ?? ''}
            onChange={onToken}
            onReset={onResetToken}
          />
        </InlineField>
      </FieldSet>
    </>
  );
}
