// Builds the single executable: dist/sockhunt-<platform>-<arch> (a Node.js single executable application).
//   1. bundle package/sea-main.ts with everything it imports into one CommonJS file (SEA runs CommonJS);
//   2. describe the native addons (sha256, size, glibc needs); pack them and the web page (server/web) as SEA assets;
//   3. node --experimental-sea-config → the preparation blob;
//   4. copy this node, strip its symbols (Linux), inject the blob with postject, re-sign (macOS);
//   5. run the result once (`--version`) before putting it in place.
// Usage: node scripts/package.mjs [--no-strip] [--output FILE]   (npm run package)
// Only linux-x64 is built and tested by this project; the macOS and Windows steps follow the Node.js docs.
import { build } from 'esbuild';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(join(root, 'package.json'));

const { values: opts } = parseArgs({
  options: {
    'no-strip': { type: 'boolean', default: false },
    output: { type: 'string' },
  },
});

function fail(message) {
  console.error(`package: ${message} (SOCKHUNT_E_PACKAGE)`);
  process.exit(3);
}

function step(text) {
  console.log(`package: ${text}`);
}

/** A clean environment for the node we run: NODE_OPTIONS and friends must not leak into the build or the check. */
function cleanEnv() {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('NODE_') || key === 'SOCKHUNT_ADDON_DIR') delete env[key];
  return env;
}

function checkNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  // SEA assets and node:sea's isSea()/getRawAsset(): Node 20.12 / 21.7.
  if (major < 20 || (major === 20 && minor < 12) || (major === 21 && minor < 7)) {
    fail(`Node ${process.versions.node} cannot build a single executable with assets; use Node 20.12 or later`);
  }
  const bytes = readFileSync(process.execPath);
  if (!bytes.includes(Buffer.from(`${SENTINEL_FUSE}:0`))) {
    fail(
      `${process.execPath} has no single-executable fuse (${bytes.includes(Buffer.from(`${SENTINEL_FUSE}:1`)) ? 'it is itself a single executable' : 'a distribution build that links a shared libnode?'}); ` +
        'build with the nodejs.org binary',
    );
  }
}

function gitCommit() {
  try {
    const git = (...args) => execFileSync('git', args, { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const commit = git('rev-parse', '--short', 'HEAD');
    return git('status', '--porcelain', '--untracked-files=no') ? `${commit}-dirty` : commit;
  } catch {
    return 'unknown'; // not a git checkout: the version alone identifies the build
  }
}

/** Highest dotted version in `text` for a symbol-version prefix such as GLIBC_ (from .dynstr). */
function highestVersion(text, prefix) {
  let best = null;
  for (const m of text.matchAll(new RegExp(`\\0${prefix}(\\d+(?:\\.\\d+)+)\\0`, 'g'))) {
    if (best === null || compare(m[1], best) > 0) best = m[1];
  }
  return best;
}

function compare(a, b) {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/** One addon: the manifest entry (package/addons.ts AddonAsset) and the file to pack. */
function describeAddon(key, file) {
  const bytes = readFileSync(file);
  const text = bytes.toString('latin1');
  return {
    file,
    entry: {
      key,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      size: bytes.length,
      glibc: highestVersion(text, 'GLIBC_'),
      glibcxx: highestVersion(text, 'GLIBCXX_'),
    },
  };
}

function findAddons() {
  let sqliteFile;
  try {
    sqliteFile = join(dirname(require.resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node');
  } catch {
    fail('better-sqlite3 is not installed: run `npm ci` first');
  }
  if (!existsSync(sqliteFile)) fail(`${sqliteFile} is missing: run \`npm ci\` (or \`npm rebuild better-sqlite3\`) first`);
  const sqlite = describeAddon('better_sqlite3.node', sqliteFile);
  const sockdiagFile = join(root, 'build', 'Release', 'sockdiag.node');
  let sockdiag = null;
  if (existsSync(sockdiagFile)) sockdiag = describeAddon('sockdiag.node', sockdiagFile);
  else if (process.platform === 'linux') console.warn('package: warning: build/Release/sockdiag.node is missing (npm run build:addon); the binary will read /proc/net');
  return { sqlite, sockdiag };
}

/** Data files the product reads at run time, packed as assets `web/<name>` (core/assets.ts). */
function dataAssets() {
  const web = join(root, 'server', 'web');
  if (!existsSync(web)) return {};
  return Object.fromEntries(
    readdirSync(web, { withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => [`web/${e.name}`, join(web, e.name)]),
  );
}

async function bundle(entry, outfile, defines) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // Nothing stays outside: the binary's require() loads built-in modules only.
    external: ['bufferutil', 'utf-8-validate'],
    // import.meta does not exist in CommonJS: its one use here (import.meta.url) becomes the file's own URL,
    // which inside the binary is the executable (__filename === process.execPath).
    banner: { js: 'var __sockhunt_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
    define: {
      'import.meta.url': '__sockhunt_import_meta_url',
      'process.env.WS_NO_BUFFER_UTIL': '"1"',
      'process.env.WS_NO_UTF_8_VALIDATE': '"1"',
      ...defines,
    },
    // A new import.meta use that the define does not cover must fail the build, not the binary.
    logOverride: { 'empty-import-meta': 'error' },
    // The bundled packages' licence notices travel inside the binary with their code.
    legalComments: 'eof',
    logLevel: 'warning',
  });
}

function run(cmd, args, what) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', env: cleanEnv() });
  if (r.error) fail(`${what}: ${r.error.message}`);
  if (r.status !== 0) fail(`${what} failed (exit ${r.status ?? r.signal}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  return r;
}

/** Linux: drop the symbol table and debug info (dynamic symbols stay: addons link against them). */
function strip(file) {
  if (opts['no-strip'] || process.platform !== 'linux') return;
  const probe = spawnSync('strip', ['--version'], { stdio: 'ignore' });
  if (probe.status !== 0) {
    console.warn('package: warning: `strip` not found (binutils); the binary keeps its symbols');
    return;
  }
  run('strip', ['--strip-all', file], 'strip');
  run(file, ['-e', 'process.exit(0)'], 'the stripped node');
}

async function inject(file, blob) {
  let postject;
  try {
    postject = require('postject');
  } catch {
    fail('postject is not installed: npm install --save-dev --save-exact postject@1.0.0-alpha.6');
  }
  const options = { sentinelFuse: SENTINEL_FUSE };
  if (process.platform === 'darwin') options.machoSegmentName = 'NODE_SEA';
  // postject logs progress, and LIEF warns about every note section of a node binary ("Can't find string
  // offset for section name '.note.100'", harmless): shown only when the injection fails.
  const saved = { log: console.log, warn: console.warn, error: console.error };
  const said = [];
  console.log = console.warn = console.error = (...args) => said.push(args.join(' '));
  try {
    await postject.inject(file, 'NODE_SEA_BLOB', blob, options);
  } catch (err) {
    Object.assign(console, saved);
    fail(`postject could not inject the blob: ${err.message}\n${said.join('\n')}`);
  } finally {
    Object.assign(console, saved);
  }
}

async function main() {
  const started = Date.now();
  checkNode();
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const commit = gitCommit();
  const target = `${process.platform}-${process.arch}`;
  const out = opts.output ?? join(root, 'dist', `sockhunt-${target}${process.platform === 'win32' ? '.exe' : ''}`);
  const work = join(root, 'dist', 'sea');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });

  const addons = findAddons();
  const manifest = { sqlite: addons.sqlite.entry, sockdiag: addons.sockdiag?.entry ?? null };
  step(`sockhunt ${pkg.version} (${commit}) for ${target}, node ${process.versions.node}`);

  const bundled = join(work, 'sockhunt.cjs');
  await bundle(join(root, 'package', 'sea-main.ts'), bundled, {
    SOCKHUNT_VERSION: JSON.stringify(pkg.version),
    SOCKHUNT_COMMIT: JSON.stringify(commit),
    SOCKHUNT_SEA_ADDONS: JSON.stringify(manifest),
  });
  step(`bundled ${relative(root, bundled)} (${(statSync(bundled).size / 1e6).toFixed(1)} MB)`);

  const blob = join(work, 'sea-prep.blob');
  const assets = { [addons.sqlite.entry.key]: addons.sqlite.file, ...dataAssets() };
  if (addons.sockdiag) assets[addons.sockdiag.entry.key] = addons.sockdiag.file;
  const seaConfig = join(work, 'sea-config.json');
  writeFileSync(
    seaConfig,
    `${JSON.stringify({ main: bundled, output: blob, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: true, assets }, null, 2)}\n`,
  );
  run(process.execPath, ['--experimental-sea-config', seaConfig], 'node --experimental-sea-config');
  step(`blob ${relative(root, blob)} (${(statSync(blob).size / 1e6).toFixed(1)} MB, assets: ${Object.keys(assets).join(', ')})`);

  const tmp = `${out}.tmp`;
  process.on('exit', () => rmSync(tmp, { force: true })); // a failed step leaves no half-made binary behind
  mkdirSync(dirname(out), { recursive: true });
  copyFileSync(process.execPath, tmp);
  chmodSync(tmp, 0o755);
  if (process.platform === 'darwin') run('codesign', ['--remove-signature', tmp], 'codesign --remove-signature');
  strip(tmp);
  await inject(tmp, readFileSync(blob));
  if (process.platform === 'darwin') run('codesign', ['--sign', '-', tmp], 'codesign --sign -');

  const check = run(tmp, ['--version'], 'the new binary');
  const expected = `sockhunt ${pkg.version} (${commit})`;
  if (!check.stdout.startsWith(expected)) fail(`the new binary says ${JSON.stringify(check.stdout.trim())}, expected ${JSON.stringify(expected)}`);
  renameSync(tmp, out);
  const needs = [manifest.sqlite, manifest.sockdiag].filter(Boolean);
  const glibc = needs.map((a) => a.glibc).filter(Boolean).sort(compare).pop();
  step(
    `${relative(root, out)}: ${(statSync(out).size / 1e6).toFixed(1)} MB${glibc ? `, needs glibc ${glibc}+` : ''}, ` +
      `built in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

await main();
