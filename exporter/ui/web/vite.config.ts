import { defineConfig } from 'vitest/config';

// The bundle goes to ../dist, which the Go package embeds (and git keeps).
// base './': asset URLs relative to index.html (/ui/), so a proxy's path prefix works.
export default defineConfig({
  base: './',
  build: {
    outDir: '../dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 200,
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
