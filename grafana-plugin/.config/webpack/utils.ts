import fs from 'fs';
import path from 'path';

import { SOURCE_DIR } from './constants';

export function getPackageJson() {
  return require(path.resolve(process.cwd(), 'package.json'));
}

export function getPluginJson() {
  return require(path.resolve(process.cwd(), `${SOURCE_DIR}/plugin.json`));
}

// getEntries returns src/module.(ts|tsx|js|jsx) as the entry "module", the
// name Grafana loads (public/plugins/<id>/module.js).
export function getEntries(): Record<string, string> {
  for (const ext of ['ts', 'tsx', 'js', 'jsx']) {
    const file = path.resolve(process.cwd(), SOURCE_DIR, `module.${ext}`);
    if (fs.existsSync(file)) {
      return { module: file };
    }
  }
  throw new Error(`no ${SOURCE_DIR}/module.(ts|tsx|js|jsx)`);
}
