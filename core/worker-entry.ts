// Where a worker thread's code is: from sources (tests, tsx) the .ts file behind the tsx loader; from the bundle,
// the .mjs that scripts/build.mjs writes beside dist/cli.mjs; inside the single binary, nowhere (the binary's
// modules are no files a worker could load), and the caller does the work on its own thread instead.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { singleBinaryPath } from './native.js';

/**
 * `base` is the caller's import.meta.url, `source` the entry's .ts file relative to it, `bundled` the name of its
 * .mjs beside the bundle. Returns the Worker's first argument (with `eval: true` when it is a string), or null.
 */
export function workerEntry(base: string, source: string, bundled: string): string | URL | null {
  if (singleBinaryPath() !== null) return null;
  if (base.endsWith('.ts')) {
    const ts = new URL(source, base).href;
    return `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(ts)}); });`;
  }
  const js = new URL(`./${bundled}`, base);
  return existsSync(fileURLToPath(js)) ? js : null;
}
