// Opens the server database the way store/agent/db.ts opens the agent's: a foreign, damaged or newer file is left
// as it is and reported with a stable code; pragmas; versioned migrations. Its application_id differs from
// the agent database's so that neither can be opened as the other.
import Database from 'better-sqlite3';
import { join, resolve } from 'node:path';
import { SockhuntError } from '../../core/errors.js';
import { defaultStateDir } from '../../core/paths.js';
import type { Migration } from '../agent/migrations.js';
import { SERVER_MIGRATIONS } from './migrations.js';
import { mapSqliteError } from '../sqlite/errors.js';
import { corrupt, openSqliteFile } from '../sqlite/file.js';

/** `PRAGMA application_id` of a sockhunt server database: "SKHS" (the agent's is "SKHT"). */
export const SOCKHUNT_SERVER_APPLICATION_ID = 0x534b4853;

/** Page size of a new server database. */
const PAGE_SIZE = 8192;
/** WAL size at which a commit checkpoints (SQLite's default is 1000 pages). */
const WAL_CHECKPOINT_BYTES = 32 * 1024 * 1024;
/** With `checkpoints: 'elsewhere'`: a bound on the WAL should the checkpointing thread fall behind or stop. */
const WAL_BACKSTOP_BYTES = 256 * 1024 * 1024;

export function defaultServerDbPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(defaultStateDir(env), 'server.db');
}

export interface OpenServerDbOptions {
  busyTimeoutMs?: number;
  quickCheck?: boolean;
  migrations?: readonly Migration[];
  /**
   * 'commit' (default): a commit that finds the WAL over 32 MB copies it into the database (SQLite's automatic
   * checkpoint). 'elsewhere': another connection does (store/server/checkpoint.ts); commits do only past 256 MB.
   */
  checkpoints?: 'commit' | 'elsewhere';
}


function checkIdentity(db: Database.Database, path: string, latest: number): void {
  const appId = db.pragma('application_id', { simple: true }) as number;
  const version = db.pragma('user_version', { simple: true }) as number;
  const objects = (db.prepare('SELECT count(*) AS n FROM sqlite_schema').get() as { n: number }).n;
  if (appId !== SOCKHUNT_SERVER_APPLICATION_ID && (appId !== 0 || objects > 0)) {
    throw new SockhuntError(
      'SOCKHUNT_E_DB_FOREIGN',
      `${path}: not a sockhunt server database (application_id ${appId}, ${objects} schema objects); the file was left as it is`,
    );
  }
  if (version > latest) {
    throw new SockhuntError(
      'SOCKHUNT_E_DB_NEWER',
      `${path}: schema version ${version} was written by a newer sockhunt server (this one knows up to ${latest}); the file was left as it is`,
    );
  }
}

function runMigrations(db: Database.Database, list: readonly Migration[]): void {
  for (;;) {
    const applied = db
      .transaction(() => {
        const current = db.pragma('user_version', { simple: true }) as number;
        const next = list[current];
        if (!next) return false;
        next.up(db);
        if (current === 0) db.pragma(`application_id = ${SOCKHUNT_SERVER_APPLICATION_ID}`);
        db.pragma(`user_version = ${next.version}`);
        return true;
      })
      .immediate();
    if (!applied) return;
  }
}

/** Opens (creating when absent) the server database; errors as openAgentDb's, the file left as it was. */
export function openServerDb(path: string, opts: OpenServerDbOptions = {}): Database.Database {
  const file = resolve(path);
  const migrations = opts.migrations ?? SERVER_MIGRATIONS;
  const busyTimeout = opts.busyTimeoutMs ?? 5000;
  const { sqlite, state } = openSqliteFile(file, busyTimeout);
  try {
    checkIdentity(sqlite, file, migrations.length);
    if (state === 'sqlite' && opts.quickCheck !== false) {
      const rows = sqlite.pragma('quick_check(5)') as Array<{ quick_check: string }>;
      if (rows.length !== 1 || rows[0]?.quick_check !== 'ok') {
        throw corrupt(file, `integrity check failed: ${rows.map((r) => r.quick_check).join('; ')}`);
      }
    }
    sqlite.pragma(`busy_timeout = ${busyTimeout}`);
    // A new file gets 8 KiB pages (before WAL mode fixes the size): ingest dirties about a page per finding in
    // indexes keyed by random event ids either way, and half as many pages are half the WAL frames to write.
    // An existing file keeps the page size it was made with.
    if (state !== 'sqlite') sqlite.pragma(`page_size = ${PAGE_SIZE}`);
    sqlite.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a commit survives a process crash (kill -9); only a power loss can lose the last ones.
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    // Ingest looks up random keys (event ids) in large indexes: a 64 MB page cache keeps most of them in memory.
    sqlite.pragma('cache_size = -65536');
    // Checkpoint when the WAL holds about 32 MB rather than 1000 pages: a page that many commits rewrite (the
    // end of an index, a host's rows) is then copied into the database once instead of once per commit.
    const pageSize = sqlite.pragma('page_size', { simple: true }) as number;
    const checkpointAt = opts.checkpoints === 'elsewhere' ? WAL_BACKSTOP_BYTES : WAL_CHECKPOINT_BYTES;
    sqlite.pragma(`wal_autocheckpoint = ${Math.max(1000, Math.round(checkpointAt / pageSize))}`);
    runMigrations(sqlite, migrations);
    return sqlite;
  } catch (err) {
    sqlite.close();
    throw mapSqliteError(err, 'open', file);
  }
}
