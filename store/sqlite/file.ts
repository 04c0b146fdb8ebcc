// Checks on a database file made with plain reads, before SQLite opens it: a foreign, damaged or truncated file
// is reported and left untouched, never handed to SQLite to write. Shared by the agent and server databases.
import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { SockhuntError } from '../../core/errors.js';
import { nativeSqliteBinding } from '../../core/native.js';
import { mapSqliteError } from './errors.js';

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

export function corrupt(path: string, why: string, cause?: unknown): SockhuntError {
  return new SockhuntError('SOCKHUNT_E_DB_CORRUPT', `${path}: ${why}; the file was left as it is`, { cause });
}

/** Header checks done with plain reads, so that a foreign or damaged file is never handed to SQLite to write. */
export function inspectHeader(path: string): 'absent' | 'empty' | 'sqlite' {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new SockhuntError('SOCKHUNT_E_DB_OPEN', `${path}: not a regular file`);
    size = st.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    if (err instanceof SockhuntError) throw err;
    throw new SockhuntError('SOCKHUNT_E_DB_OPEN', `${path}: cannot stat the database file`, { cause: err });
  }
  if (size === 0) return 'empty';
  const header = Buffer.alloc(100);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new SockhuntError('SOCKHUNT_E_DB_OPEN', `${path}: cannot read the database file`, { cause: err });
  }
  try {
    readSync(fd, header, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  if (size < 100 || !header.subarray(0, 16).equals(SQLITE_MAGIC)) throw corrupt(path, 'not an SQLite database');
  const rawPageSize = header.readUInt16BE(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) throw corrupt(path, `invalid page size ${rawPageSize}`);
  // The page count in the header is trustworthy only when the change counter matches "version-valid-for".
  const pages = header.readUInt32BE(28);
  if (pages > 0 && header.readUInt32BE(24) === header.readUInt32BE(92) && size < pages * pageSize) {
    throw corrupt(path, `file holds ${Math.floor(size / pageSize)} of ${pages} pages (truncated)`);
  }
  return 'sqlite';
}

/**
 * Creates the state directory (0700) and a missing file (0600, so -wal and -shm are private too), checks the
 * header of an existing one, and opens it. The caller checks identity and migrates.
 */
export function openSqliteFile(file: string, busyTimeout: number): { sqlite: Database.Database; state: 'absent' | 'empty' | 'sqlite' } {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new SockhuntError('SOCKHUNT_E_DB_OPEN', `${file}: cannot create the state directory`, { cause: err });
  }
  const state = inspectHeader(file);
  if (state === 'absent') {
    try {
      closeSync(openSync(file, 'wx', 0o600));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new SockhuntError('SOCKHUNT_E_DB_OPEN', `${file}: cannot create the database file`, { cause: err });
      }
    }
  }
  // Inside the single binary the addon is loaded by package/addons.ts; undefined under npm.
  const nativeBinding = nativeSqliteBinding() as string | undefined; // @types says string; the library takes the module too
  try {
    return { sqlite: new Database(file, { timeout: busyTimeout, nativeBinding }), state };
  } catch (err) {
    const mapped = mapSqliteError(err, 'open', file);
    throw mapped instanceof SockhuntError && mapped.code === 'SOCKHUNT_E_DB_CORRUPT'
      ? mapped
      : new SockhuntError('SOCKHUNT_E_DB_OPEN', `${file}: cannot open the database`, { cause: err });
  }
}
