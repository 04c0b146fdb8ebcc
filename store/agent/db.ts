// Opens the agent database: checks that the file is a sockhunt database (never resetting one that is not),
// sets the pragmas, applies migrations and hands out the transaction helper every store module writes through.
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { MIGRATIONS, type Migration } from './migrations.js';
import { mapSqliteError } from '../sqlite/errors.js';
import { openSockhuntSqlite, type DatabaseKind } from '../sqlite/open.js';

export { defaultAgentDbPath, defaultStateDir } from '../../core/paths.js';
export { MIGRATIONS, SCHEMA_VERSION, type Migration } from './migrations.js';

/** `PRAGMA application_id` of every sockhunt database: "SKHT". */
export const SOCKHUNT_APPLICATION_ID = 0x534b4854;

const AGENT_DB: DatabaseKind = {
  applicationId: SOCKHUNT_APPLICATION_ID,
  foreign: (appId, objects) => `an SQLite database of another application (application_id ${appId}, ${objects} schema objects)`,
  writer: 'sockhunt',
};

export interface OpenAgentDbOptions {
  /** How long a writer waits for another process's lock before SQLITE_BUSY (default 5000 ms). */
  busyTimeoutMs?: number;
  /** Run `PRAGMA quick_check` on an existing file at open (default true). */
  quickCheck?: boolean;
  /** Migrations to apply (tests); default the product's list. */
  migrations?: readonly Migration[];
}

export interface AgentDb {
  readonly path: string;
  /** The raw handle, for store modules (prepared statements) and tests. */
  readonly sqlite: Database.Database;
  /** The agent id (`host.id`): a UUID made at first open and kept. */
  agentId(): string;
  getMeta(key: string): string | null;
  setMeta(key: string, value: string): void;
  /**
   * Runs `fn` in one transaction (nested calls become savepoints). SQLite write failures are thrown as
   * SOCKHUNT_E_DB_WRITE / SOCKHUNT_E_DB_CORRUPT; nothing of `fn` is kept then.
   */
  transaction<T>(fn: () => T): T;
  /** Runs `hook` once the enclosing outermost transaction commits (dropped on rollback); now when outside one. */
  afterCommit(hook: () => void): void;
  /**
   * Runs `hook` when the enclosing transaction (or savepoint) rolls back, so that in-memory state changed inside it
   * can be undone; hooks run newest first. Never runs outside a transaction or once it has committed.
   */
  onRollback(hook: () => void): void;
  /**
   * Runs `hook` when `close()` is called, before the database closes (e.g. to write sums kept in memory). A hook
   * that throws does not stop the close: what it meant to write is lost.
   */
  beforeClose(hook: () => void): void;
  schemaVersion(): number;
  close(): void;
}

interface Hooks {
  commit: Array<() => void>;
  rollback: Array<() => void>;
}

class SqliteAgentDb implements AgentDb {
  private readonly hookStack: Hooks[] = [];
  private readonly runInTxn: Database.Transaction<(fn: () => unknown) => unknown>;
  private readonly getMetaStmt: Database.Statement<[string], { value: string }>;
  private readonly setMetaStmt: Database.Statement<[string, string]>;
  private id: string | null = null;

  constructor(
    readonly path: string,
    readonly sqlite: Database.Database,
  ) {
    this.runInTxn = sqlite.transaction((fn: () => unknown) => fn());
    this.getMetaStmt = sqlite.prepare('SELECT value FROM meta WHERE key = ?');
    this.setMetaStmt = sqlite.prepare(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
  }

  agentId(): string {
    if (this.id) return this.id;
    let id = this.getMeta('host.id');
    if (!id) {
      const fresh = randomUUID();
      this.transaction(() => this.sqlite.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run('host.id', fresh));
      id = this.getMeta('host.id') ?? fresh;
    }
    this.id = id;
    return id;
  }

  getMeta(key: string): string | null {
    try {
      return this.getMetaStmt.get(key)?.value ?? null;
    } catch (err) {
      throw mapSqliteError(err, `reading meta ${key}`, this.path);
    }
  }

  setMeta(key: string, value: string): void {
    this.transaction(() => this.setMetaStmt.run(key, value));
  }

  transaction<T>(fn: () => T): T {
    const hooks: Hooks = { commit: [], rollback: [] };
    this.hookStack.push(hooks);
    let result: T;
    try {
      // IMMEDIATE takes the write lock up front: a deferred transaction that later upgrades can deadlock with
      // another process (the CLI next to the running agent) and fail with SQLITE_BUSY without waiting.
      result = (this.hookStack.length === 1 ? this.runInTxn.immediate(fn) : this.runInTxn(fn)) as T;
    } catch (err) {
      this.hookStack.pop();
      for (let i = hooks.rollback.length - 1; i >= 0; i--) hooks.rollback[i]!();
      throw mapSqliteError(err, 'write', this.path);
    }
    this.hookStack.pop();
    const parent = this.hookStack[this.hookStack.length - 1];
    if (parent) {
      parent.commit.push(...hooks.commit);
      parent.rollback.push(...hooks.rollback);
    } else for (const hook of hooks.commit) hook();
    return result;
  }

  afterCommit(hook: () => void): void {
    const top = this.hookStack[this.hookStack.length - 1];
    if (top) top.commit.push(hook);
    else hook();
  }

  onRollback(hook: () => void): void {
    this.hookStack[this.hookStack.length - 1]?.rollback.push(hook);
  }

  beforeClose(hook: () => void): void {
    this.closeHooks.push(hook);
  }

  private readonly closeHooks: Array<() => void> = [];

  schemaVersion(): number {
    return this.sqlite.pragma('user_version', { simple: true }) as number;
  }

  close(): void {
    if (!this.sqlite.open) return;
    for (const hook of this.closeHooks.splice(0)) {
      try {
        hook();
      } catch {
        // the database is closing either way; see beforeClose
      }
    }
    this.sqlite.close();
  }
}

/**
 * Opens (creating when absent) the agent database at `path`. Throws SOCKHUNT_E_DB_CORRUPT for a damaged or
 * non-SQLite file, SOCKHUNT_E_DB_FOREIGN for another application's database, SOCKHUNT_E_DB_NEWER for a newer
 * schema, SOCKHUNT_E_DB_OPEN when it cannot be opened, SOCKHUNT_E_DB_WRITE when migrating cannot write.
 * In every error case the file is left as it was.
 */
export function openAgentDb(path: string, opts: OpenAgentDbOptions = {}): AgentDb {
  const file = resolve(path);
  const sqlite = openSockhuntSqlite(file, AGENT_DB, opts.migrations ?? MIGRATIONS, {
    busyTimeoutMs: opts.busyTimeoutMs,
    quickCheck: opts.quickCheck,
  });
  try {
    const db = new SqliteAgentDb(file, sqlite);
    db.agentId();
    return db;
  } catch (err) {
    sqlite.close();
    throw mapSqliteError(err, 'open', file);
  }
}
