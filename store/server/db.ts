// Opens the server database the way store/agent/db.ts opens the agent's: a foreign, damaged or newer file is left
// as it is and reported with a stable code; pragmas; versioned migrations. Its application_id differs from
// the agent database's so that neither can be opened as the other.
import type Database from 'better-sqlite3';
import { join, resolve } from 'node:path';
import { defaultStateDir } from '../../core/paths.js';
import type { Migration } from '../sqlite/migrate.js';
import { SERVER_MIGRATIONS } from './migrations.js';
import { openSockhuntSqlite, type DatabaseKind } from '../sqlite/open.js';

/** `PRAGMA application_id` of a sockhunt server database: "SKHS" (the agent's is "SKHT"). */
export const SOCKHUNT_SERVER_APPLICATION_ID = 0x534b4853;

const SERVER_DB: DatabaseKind = {
  applicationId: SOCKHUNT_SERVER_APPLICATION_ID,
  foreign: (appId, objects) => `not a sockhunt server database (application_id ${appId}, ${objects} schema objects)`,
  writer: 'sockhunt server',
};

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

/** Opens (creating when absent) the server database; errors as openAgentDb's, the file left as it was. */
export function openServerDb(path: string, opts: OpenServerDbOptions = {}): Database.Database {
  return openSockhuntSqlite(resolve(path), SERVER_DB, opts.migrations ?? SERVER_MIGRATIONS, {
    busyTimeoutMs: opts.busyTimeoutMs,
    quickCheck: opts.quickCheck,
    // A new file gets 8 KiB pages (before WAL mode fixes the size): ingest dirties about a page per finding in
    // indexes keyed by random event ids either way, and half as many pages are half the WAL frames to write.
    // An existing file keeps the page size it was made with.
    beforeWal: (sqlite, state) => {
      if (state !== 'sqlite') sqlite.pragma(`page_size = ${PAGE_SIZE}`);
    },
    pragmas: (sqlite) => {
      // Ingest looks up random keys (event ids) in large indexes: a 64 MB page cache keeps most of them in memory.
      sqlite.pragma('cache_size = -65536');
      // Checkpoint when the WAL holds about 32 MB rather than 1000 pages: a page that many commits rewrite (the
      // end of an index, a host's rows) is then copied into the database once instead of once per commit.
      const pageSize = sqlite.pragma('page_size', { simple: true }) as number;
      const checkpointAt = opts.checkpoints === 'elsewhere' ? WAL_BACKSTOP_BYTES : WAL_CHECKPOINT_BYTES;
      sqlite.pragma(`wal_autocheckpoint = ${Math.max(1000, Math.round(checkpointAt / pageSize))}`);
    },
  });
}
