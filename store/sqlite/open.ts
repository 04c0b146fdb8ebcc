// Opens a sockhunt SQLite database, the same way for the agent's and the server's: header checks with plain reads
// (file.ts), identity (application_id, schema version), quick_check, pragmas, migrations. A foreign, damaged or
// newer file is reported with a stable code and left as it is.
import type Database from 'better-sqlite3';
import { SockhuntError } from '../../core/errors.js';
import { mapSqliteError } from './errors.js';
import { corrupt, openSqliteFile } from './file.js';
import { runMigrations, validateMigrations, type Migration } from './migrate.js';

/** What tells one kind of sockhunt database from another, and how its errors name it. */
export interface DatabaseKind {
  /** `PRAGMA application_id` the first migration stamps and every open checks. */
  applicationId: number;
  /** Message of SOCKHUNT_E_DB_FOREIGN after "<path>: ", given the file's application_id and schema object count. */
  foreign(appId: number, objects: number): string;
  /** Who wrote a newer schema, for SOCKHUNT_E_DB_NEWER: "a newer <writer>". */
  writer: string;
}

export interface OpenSqliteOptions {
  /** How long a writer waits for another process's lock before SQLITE_BUSY (default 5000 ms). */
  busyTimeoutMs?: number;
  /** Run `PRAGMA quick_check` on an existing file at open (default true). */
  quickCheck?: boolean;
  /** Runs after the identity checks and busy_timeout, before WAL mode (which fixes the page size of a new file). */
  beforeWal?(sqlite: Database.Database, state: 'absent' | 'empty' | 'sqlite'): void;
  /** Runs after the common pragmas, before migrating (cache size, autocheckpoint). */
  pragmas?(sqlite: Database.Database): void;
}

export function checkIdentity(db: Database.Database, path: string, latest: number, kind: DatabaseKind): void {
  const appId = db.pragma('application_id', { simple: true }) as number;
  const version = db.pragma('user_version', { simple: true }) as number;
  const objects = (db.prepare('SELECT count(*) AS n FROM sqlite_schema').get() as { n: number }).n;
  if (appId !== kind.applicationId && (appId !== 0 || objects > 0)) {
    throw new SockhuntError('SOCKHUNT_E_DB_FOREIGN', `${path}: ${kind.foreign(appId, objects)}; the file was left as it is`);
  }
  if (version > latest) {
    throw new SockhuntError(
      'SOCKHUNT_E_DB_NEWER',
      `${path}: schema version ${version} was written by a newer ${kind.writer} (this one knows up to ${latest}); the file was left as it is`,
    );
  }
}

export function quickCheck(db: Database.Database, path: string): void {
  const rows = db.pragma('quick_check(5)') as Array<{ quick_check: string }>;
  if (rows.length !== 1 || rows[0]?.quick_check !== 'ok') {
    throw corrupt(path, `integrity check failed: ${rows.map((r) => r.quick_check).join('; ')}`);
  }
}

/**
 * Opens (creating when absent) the database at the absolute path `file` and migrates it. Throws
 * SOCKHUNT_E_DB_CORRUPT for a damaged or non-SQLite file, SOCKHUNT_E_DB_FOREIGN for another application's (or the
 * other kind of sockhunt) database, SOCKHUNT_E_DB_NEWER for a newer schema, SOCKHUNT_E_DB_OPEN when it cannot be
 * opened, SOCKHUNT_E_DB_WRITE when migrating cannot write. In every error case the file is left as it was.
 */
export function openSockhuntSqlite(
  file: string,
  kind: DatabaseKind,
  migrations: readonly Migration[],
  opts: OpenSqliteOptions = {},
): Database.Database {
  validateMigrations(migrations);
  const busyTimeout = opts.busyTimeoutMs ?? 5000;
  const { sqlite, state } = openSqliteFile(file, busyTimeout);
  try {
    checkIdentity(sqlite, file, migrations.length, kind);
    if (state === 'sqlite' && opts.quickCheck !== false) quickCheck(sqlite, file);
    sqlite.pragma(`busy_timeout = ${busyTimeout}`);
    opts.beforeWal?.(sqlite, state);
    sqlite.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a commit survives a process crash (kill -9); only a power loss can lose the last ones.
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    opts.pragmas?.(sqlite);
    runMigrations(sqlite, migrations, kind.applicationId);
    return sqlite;
  } catch (err) {
    sqlite.close();
    throw mapSqliteError(err, 'open', file);
  }
}

export type { Migration } from './migrate.js';
