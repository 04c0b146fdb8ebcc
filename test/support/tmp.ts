// Temporary directories for tests: made under os.tmpdir(), removed (recursively) by their owner.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';

export interface TempDir {
  readonly dir: string;
  remove(): void;
}

/** A fresh directory `<os.tmpdir()>/<prefix>XXXXXX` (mode 0700); `remove()` deletes it with all it holds. */
export function tempDir(prefix = 'sockhunt-test-'): TempDir {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh temp dir for every test of the enclosing file or describe (made before each, removed after each). */
export function tempDirEach(prefix?: string): { readonly dir: string } {
  let current: TempDir | undefined;
  beforeEach(() => {
    current = tempDir(prefix);
  });
  afterEach(() => {
    current?.remove();
    current = undefined;
  });
  return {
    get dir(): string {
      if (!current) throw new Error('tempDirEach: the directory exists only while a test runs');
      return current.dir;
    },
  };
}
