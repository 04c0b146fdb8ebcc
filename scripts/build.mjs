// Bundles the CLI into dist/cli.mjs (ESM, node20). Native and optional packages stay external.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
} catch {
  // not a git checkout (an npm tarball): the version alone identifies the build
}

await build({
  entryPoints: [new URL('../agent/cli.ts', import.meta.url).pathname],
  outfile: new URL('../dist/cli.mjs', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: 'linked',
  packages: 'external',
  define: {
    SOCKHUNT_VERSION: JSON.stringify(pkg.version),
    SOCKHUNT_COMMIT: JSON.stringify(commit),
  },
  logLevel: 'warning',
});

// Frame validation runs in a worker thread of the server; the worker is its own small bundle.
await build({
  entryPoints: [new URL('../server/validator-worker.ts', import.meta.url).pathname],
  outfile: new URL('../dist/validator-worker.mjs', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  logLevel: 'warning',
});
