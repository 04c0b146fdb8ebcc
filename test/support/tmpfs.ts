// A tiny tmpfs for full-disk tests (root only): mounted on a fresh directory, filled to the last block on demand,
// unmounted by the returned function (and by unmountAll in afterAll, for a test that failed half-way).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const mounted = new Set<string>();

/** Mounts a tmpfs of `size` (e.g. '8m') on `dir` (created); null when this host does not allow it. */
export function mountTmpfs(dir: string, size: string): { dir: string; unmount(): void } | null {
  fs.mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return null;
  }
  mounted.add(dir);
  return {
    dir,
    unmount() {
      if (!mounted.delete(dir)) return;
      execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
    },
  };
}

/** Writes a file until the file system under `dir` is full (ENOSPC); returns its path, to remove for room. */
export function fillUp(dir: string): string {
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}

export function unmountAll(): void {
  for (const dir of mounted) {
    try {
      execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
  mounted.clear();
}
