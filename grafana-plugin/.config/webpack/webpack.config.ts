/*
 * A trimmed copy of what @grafana/create-plugin generates in .config/webpack:
 * an AMD module.js (Grafana 10 loads plugins with SystemJS), Grafana's own
 * packages as externals, and plugin.json, README.md, CHANGELOG.md and img/
 * copied next to it. The backend binary (gpx_*_amd64) survives the clean.
 */
import CopyWebpackPlugin from 'copy-webpack-plugin';
import path from 'path';
import type { Configuration } from 'webpack';

import { DIST_DIR, SOURCE_DIR } from './constants';
import { getEntries, getPackageJson, getPluginJson } from './utils';

type Env = { production?: boolean; development?: boolean };

const config = (env: Env): Configuration => {
  const pluginJson = getPluginJson();
  const version: string = getPackageJson().version;
  const today = new Date().toISOString().substring(0, 10);
  const stamp = (content: Buffer) =>
    content
      .toString()
      .replace(/%VERSION%/g, version)
      .replace(/%TODAY%/g, today)
      .replace(/%PLUGIN_ID%/g, pluginJson.id);

  return {
    cache: { type: 'filesystem', buildDependencies: { config: [__filename] } },
    context: path.join(process.cwd(), SOURCE_DIR),
    devtool: env.production ? 'source-map' : 'eval-source-map',
    entry: getEntries(),
    externals: [
      'lodash',
      'jquery',
      'moment',
      'slate',
      'emotion',
      '@emotion/react',
      '@emotion/css',
      'prismjs',
      'slate-plain-serializer',
      '@grafana/slate-react',
      'react',
      'react-dom',
      'react-redux',
      'redux',
      'rxjs',
      'react-router',
      'react-router-dom',
      'd3',
      'angular',
      '@grafana/ui',
      '@grafana/runtime',
      '@grafana/data',
      // Legacy imports such as "grafana/app/core/..." resolve to Grafana's own modules.
      ({ request }, callback) => {
        const prefix = 'grafana/';
        if (request && request.indexOf(prefix) === 0) {
          return callback(undefined, request.substring(prefix.length));
        }
        callback();
      },
    ],
    mode: env.production ? 'production' : 'development',
    module: {
      rules: [
        {
          exclude: /(node_modules)/,
          test: /\.[tj]sx?$/,
          use: {
            loader: 'swc-loader',
            options: {
              jsc: {
                baseUrl: path.resolve(process.cwd(), SOURCE_DIR),
                target: 'es2015',
                loose: false,
                parser: { syntax: 'typescript', tsx: true, decorators: false, dynamicImport: true },
              },
            },
          },
        },
        { test: /\.css$/, use: ['style-loader', 'css-loader'] },
        {
          test: /\.(png|jpe?g|gif|svg)$/,
          type: 'asset/resource',
          generator: {
            publicPath: `public/plugins/${pluginJson.id}/img/`,
            outputPath: 'img/',
            filename: '[hash][ext]',
          },
        },
      ],
    },
    output: {
      clean: { keep: new RegExp(`(.*?_(amd64|arm(64)?)(.exe)?|go_plugin_build_manifest)`) },
      filename: '[name].js',
      library: { type: 'amd' },
      path: path.resolve(process.cwd(), DIST_DIR),
      publicPath: `public/plugins/${pluginJson.id}/`,
      uniqueName: pluginJson.id,
    },
    plugins: [
      new CopyWebpackPlugin({
        patterns: [
          { from: 'plugin.json', to: '.', transform: stamp },
          { from: 'README.md', to: '.', force: true, transform: stamp },
          { from: 'CHANGELOG.md', to: '.', force: true },
          { from: 'img/**/*', to: '.' },
          // The catalog's screenshot: the Live dashboard as make e2e-grafana took it.
          { from: '../../dashboards/screenshots/grafana-live.png', to: 'img/screenshot-live.png' },
        ],
      }),
    ],
    resolve: {
      extensions: ['.js', '.jsx', '.ts', '.tsx'],
      modules: [path.resolve(process.cwd(), SOURCE_DIR), 'node_modules'],
      unsafeCache: true,
    },
  };
};

export default config;
