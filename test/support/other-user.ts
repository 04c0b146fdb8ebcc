// Children run as another (unprivileged) user must be able to read what they run. A clone can live where that user
// cannot reach it (under a 0700 directory such as one `mktemp -d` made for root): then the files are copied to a
// fresh temp dir others can read, and when even that cannot work the test is skipped with the reason.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tempDir } from './tmp.js';

export interface User {
  uid: number;
  gid: number;
}

/** The user tests run children as: nobody. */
export const NOBODY: User = { uid: 65534, gid: 65534 };

/** Whether `user` can read every one of `files` (directories: list them), asked by a node started as that user from /. */
export function canRead(files: string[], user: User = NOBODY): boolean {
  const script = `const fs = require('node:fs'); for (const f of ${JSON.stringify(files)}) fs.accessSync(f, fs.constants.R_OK | (fs.statSync(f).isDirectory() ? fs.constants.X_OK : 0));`;
  const r = spawnSync(process.execPath, ['-e', script], { uid: user.uid, gid: user.gid, cwd: '/', stdio: 'ignore', timeout: 30_000 });
  return r.status === 0;
}

/** A directory under os.tmpdir() that everyone can list and read (0755), removed with `remove()`. */
export function readableTempDir(prefix: string): { readonly dir: string; remove(): void } {
  const tmp = tempDir(prefix);
  fs.chmodSync(tmp.dir, 0o755);
  return tmp;
}

export interface ReadableFiles {
  /** Where the files are: `root` itself, or the copy. */
  readonly root: string;
  /** True when the files had to be copied. */
  readonly copied: boolean;
  remove(): void;
}

/**
 * `files` (paths relative to `root`, files or whole directories) where `user` can read them: in place when it already
 * can, else copied with their relative paths into a fresh readable temp dir (removed by `remove()`). A reason string
 * when not even the copy is readable (os.tmpdir() itself out of the user's reach, or node not runnable by it).
 */
export function readableBy(root: string, files: string[], user: User = NOBODY): ReadableFiles | string {
  if (canRead(files.map((f) => path.join(root, f)), user)) return { root, copied: false, remove: () => undefined };
  const copy = readableTempDir('sockhunt-readable-');
  for (const f of files) fs.cpSync(path.join(root, f), path.join(copy.dir, f), { recursive: true, verbatimSymlinks: true });
  openUp(copy.dir);
  if (canRead(files.map((f) => path.join(copy.dir, f)), user)) return { root: copy.dir, copied: true, remove: copy.remove };
  copy.remove();
  return `uid ${user.uid} can read neither ${root} nor a copy under ${os.tmpdir()} (or cannot run ${process.execPath})`;
}

/** Makes a copied tree readable by everyone: directories 0755, files +r (and +x where the owner has x). */
function openUp(dir: string): void {
  fs.chmodSync(dir, 0o755);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) openUp(p);
    else if (entry.isFile()) {
      const mode = fs.statSync(p).mode & 0o777;
      fs.chmodSync(p, mode | 0o444 | (mode & 0o100 ? 0o111 : 0));
    }
  }
}

/**
 * What `node bin/sockhunt.js` loads: the entry, the bundles in dist/, package.json and the installed runtime
 * dependencies (package.json `dependencies`, and theirs, as npm hoists them into node_modules/).
 */
export function cliFiles(root: string): string[] {
  const depsOf = (pkgJson: string): string[] => {
    const pkg = JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    return Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies });
  };
  const packages = new Set<string>();
  const queue = depsOf(path.join(root, 'package.json'));
  for (let name = queue.pop(); name !== undefined; name = queue.pop()) {
    const manifest = path.join(root, 'node_modules', name, 'package.json');
    if (packages.has(name) || !fs.existsSync(manifest)) continue; // not hoisted: it comes with the package that nests it
    packages.add(name);
    queue.push(...depsOf(manifest));
  }
  return ['package.json', 'bin/sockhunt.js', 'dist', ...[...packages].sort().map((name) => `node_modules/${name}`)];
}
