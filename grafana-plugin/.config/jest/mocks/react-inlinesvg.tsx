// @grafana/ui's icons load SVGs over HTTP; tests render a placeholder instead.
import React from 'react';

type Props = { src: string; className?: string };

export default function InlineSVG({ src, className }: Props) {
  return <svg id={src.split('/').pop()} className={className} />;
}
