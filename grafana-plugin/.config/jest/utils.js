/*
 * Packages that ship ES modules only: jest (CommonJS) must transform them.
 */
const grafanaESModules = [
  '.pnpm',
  'd3',
  'd3-color',
  'd3-force',
  'd3-interpolate',
  'd3-scale-chromatic',
  'ol',
  'react-colorful',
  'rxjs',
  'uuid',
];

const nodeModulesToTransform = (moduleNames) => `node_modules\/(?!.*(${moduleNames.join('|')})\/.*)`;

module.exports = { grafanaESModules, nodeModulesToTransform };
