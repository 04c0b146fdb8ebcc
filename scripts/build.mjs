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
  entryPoints: [new URL('../cli/cli.ts', import.meta.url).pathname],
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

// Frame validation and the server's database run in worker threads; each worker is its own small bundle.
for (const [entry, out] of [
  ['../server/validator-worker.ts', '../dist/validator-worker.mjs'],
  ['../store/server/sqlite-worker.ts', '../dist/server-store-worker.mjs'],
]) {
  await build({
    entryPoints: [new URL(entry, import.meta.url).pathname],
    outfile: new URL(out, import.meta.url).pathname,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    logLevel: 'warning',
  });
}
