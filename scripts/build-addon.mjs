// Builds the sock_diag addon (build/Release/sockdiag.node) with npm's bundled node-gyp. It is an optional
// speed-up: when the build fails this prints one warning and exits 0, and the collector reads /proc/net.
// Run by `npm install`; by hand: node scripts/build-addon.mjs [--verbose]
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const verbose = process.argv.includes('--verbose');
const NODE_GYP_IN_NPM = join('node_modules', 'node-gyp', 'bin', 'node-gyp.js');

if (process.platform !== 'linux') process.exit(0);

/** The node-gyp command: [executable, ...leading args], or null. */
function findNodeGyp() {
  // npm exports its bundled node-gyp to lifecycle scripts.
  const fromNpmConfig = process.env.npm_config_node_gyp;
  if (fromNpmConfig && existsSync(fromNpmConfig)) return [process.execPath, fromNpmConfig];
  // npm_execpath is .../npm/bin/npm-cli.js when run through npm.
  const npmExec = process.env.npm_execpath;
  if (npmExec) {
    const candidate = join(dirname(npmExec), '..', NODE_GYP_IN_NPM);
    if (existsSync(candidate)) return [process.execPath, candidate];
  }
  try {
    const prefix = execFileSync('npm', ['prefix', '-g'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 30_000 }).trim();
    const candidate = join(prefix, 'lib', 'node_modules', 'npm', NODE_GYP_IN_NPM);
    if (existsSync(candidate)) return [process.execPath, candidate];
  } catch {
    // no npm on PATH: try a node-gyp of its own below
  }
  const onPath = spawnSync('node-gyp', ['--version'], { stdio: 'ignore' });
  return onPath.status === 0 ? ['node-gyp'] : null;
}

/** Where the Node headers are, so node-gyp never tries to download them (this machine may be offline). */
function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = join(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : null;
}

function giveUp(reason, log) {
  let where = '';
  if (log) {
    try {
      mkdirSync(join(root, 'build'), { recursive: true });
      writeFileSync(join(root, 'build', 'sockdiag-build.log'), log);
      where = ' (log: build/sockdiag-build.log)';
    } catch {
      // the warning alone must do
    }
  }
  console.warn(`sockhunt: the sock_diag addon was not built (${reason})${where}; the collector will read /proc/net instead.`);
  process.exit(0);
}

const nodeGyp = findNodeGyp();
if (!nodeGyp) giveUp('node-gyp not found');

const args = [...nodeGyp.slice(1), 'rebuild'];
const dir = nodeDir();
if (dir) args.push(`--nodedir=${dir}`);
const result = spawnSync(nodeGyp[0], args, {
  cwd: root,
  encoding: 'utf8',
  stdio: verbose ? 'inherit' : 'pipe',
  timeout: 300_000,
});
if (result.error) giveUp(`node-gyp could not run: ${result.error.message}`, '');
if (result.status !== 0) {
  const log = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  // The compiler's or make's own words say more than node-gyp's summary that follows them.
  const lines = log.split('\n');
  const firstError =
    lines.find((line) => /\berror:|^make: \*\*\*|not found/i.test(line)) ?? lines.find((line) => line.startsWith('gyp ERR!'));
  giveUp(firstError ? firstError.trim().slice(0, 200) : `node-gyp exited with ${result.status ?? result.signal}`, log);
}
