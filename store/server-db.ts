// Opens the server database the way store/db.ts opens the agent's: a foreign, damaged or newer file is left
// as it is and reported with a stable code; pragmas; versioned migrations. Its application_id differs from
// the agent database's so that neither can be opened as the other.
import Database from 'better-sqlite3';
import { join, resolve } from 'node:path';
import { SockhuntError } from '../agent/errors.js';
import { defaultStateDir } from './paths.js';
import type { Migration } from './migrations.js';
import { SERVER_MIGRATIONS } from './server-migrations.js';
import { mapSqliteError } from './sqlite-errors.js';
import { corrupt, openSqliteFile } from './sqlite-file.js';

/** `PRAGMA application_id` of a sockhunt server database: "SKHS" (the agent's is "SKHT"). */
export const SOCKHUNT_SERVER_APPLICATION_ID = 0x534b4853;

export function defaultServerDbPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(defaultStateDir(env), 'server.db');
}

export interface OpenServerDbOptions {
  busyTimeoutMs?: number;
  quickCheck?: boolean;
  migrations?: readonly Migration[];
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
    sqlite.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a commit survives a process crash (kill -9); only a power loss can lose the last ones.
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    // Ingest looks up random keys (event ids) in large indexes: a 64 MB page cache keeps most of them in memory.
    sqlite.pragma('cache_size = -65536');
    runMigrations(sqlite, migrations);
    return sqlite;
  } catch (err) {
    sqlite.close();
    throw mapSqliteError(err, 'open', file);
  }
}
