// @grafana/ui's icons load SVGs over HTTP; tests render a placeholder instead.
// cacheStore is where @grafana/ui puts its bundled icons.
import React from 'react';

export const cacheStore: Record<string, unknown> = Object.create(null);

type Props = { src: string; className?: string };

export default function InlineSVG({ src, className }: Props) {
  return <svg id={src.split('/').pop()} className={className} />;
}
