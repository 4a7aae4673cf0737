/*
 * Jest as @grafana/create-plugin sets it up: swc for TypeScript, jsdom, the
 * ES-module-only packages of @grafana/* transformed, CSS as identity objects.
 */
const path = require('path');
const { grafanaESModules, nodeModulesToTransform } = require('./jest/utils');

module.exports = {
  moduleNameMapper: {
    '\\.(css|scss|sass)$': 'identity-obj-proxy',
    'react-inlinesvg': path.resolve(__dirname, 'jest', 'mocks', 'react-inlinesvg.tsx'),
  },
  modulePaths: ['<rootDir>/src'],
  setupFiles: ['<rootDir>/.config/jest-setup.js'],
  setupFilesAfterEnv: ['<rootDir>/jest-setup.js'],
  testEnvironment: 'jest-environment-jsdom',
  // The first render of @grafana/ui in a worker takes seconds on a small,
  // busy machine; a test that clicks through the query editor takes tens.
  testTimeout: 90000,
  testMatch: ['<rootDir>/src/**/*.{spec,test}.{js,jsx,ts,tsx}'],
  transform: {
    '^.+\\.m?(t|j)sx?$': [
      '@swc/jest',
      {
        sourceMaps: 'inline',
        jsc: { parser: { syntax: 'typescript', tsx: true, decorators: false, dynamicImport: true } },
      },
    ],
  },
  transformIgnorePatterns: [nodeModulesToTransform(grafanaESModules)],
};
