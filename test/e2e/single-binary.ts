// Builds the single binary for the e2e tests once: scripts/package.mjs, skipped while dist/ holds a binary newer
// than every source it is made of.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
export const binaryTarget = `${process.platform}-${process.arch}`;
export const builtBinary = join(projectRoot, 'dist', `sockhunt-${binaryTarget}`);

const INPUTS = [
  'agent',
  'collectors',
  'store',
  'server',
  'scripts/package.mjs',
  'package.json',
  'package-lock.json',
  'build/Release/sockdiag.node',
  'node_modules/better-sqlite3/build/Release/better_sqlite3.node',
];

/** Newest modification time among what the binary is made of. */
function newestInput(): number {
  let newest = 0;
  const visit = (path: string): void => {
    if (!existsSync(path)) return;
    const st = statSync(path);
    if (st.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of INPUTS) visit(join(projectRoot, p));
  return newest;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Test files run in parallel: one builds, the others wait for it (a lock file holding the builder's pid). */
function withBuildLock<T>(fn: () => T): T {
  const lock = join(projectRoot, 'dist', '.package.lock');
  mkdirSync(join(projectRoot, 'dist'), { recursive: true });
  const deadline = Date.now() + 600_000;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || Date.now() > deadline) throw err;
      const holder = Number(readFileSync(lock, 'utf8'));
      if (holder > 0 && !alive(holder)) rmSync(lock, { force: true });
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** The path of an up-to-date binary, building it when needed (about 5 s to a minute). */
export function ensureBinary(): string {
  return withBuildLock(() => {
    if (!existsSync(builtBinary) || statSync(builtBinary).mtimeMs < newestInput()) {
      execFileSync(process.execPath, ['scripts/package.mjs'], { cwd: projectRoot, stdio: 'inherit', timeout: 600_000 });
    }
    return builtBinary;
  });
}
