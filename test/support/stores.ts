// Agent stores in temp dirs: per test (opened before each test, closed and removed after it) or made inside a test.
import path from 'node:path';
import { afterEach, beforeEach, onTestFinished } from 'vitest';
import { openAgentDb, openAgentStore, type AgentDb, type AgentStore } from '../../store/agent/index.js';
import { tempDir, type TempDir } from './tmp.js';

type AgentStoreOptions = NonNullable<Parameters<typeof openAgentStore>[1]>;

function current<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} exists only while a test runs`);
  return value;
}

export interface AgentDbFixture {
  /** The temp dir, removed after the test. */
  readonly dir: string;
  /** `<dir>/agent.db`. */
  readonly file: string;
  /** The open database; a test that reopens it assigns the new one here, and that is what is closed after it. */
  db: AgentDb;
}

/** Before each test: an agent database (openAgentDb) at agent.db in a fresh temp dir; after it: closed, dir removed. */
export function agentDbEach(): AgentDbFixture {
  let tmp: TempDir | undefined;
  let db: AgentDb | undefined;
  beforeEach(() => {
    tmp = tempDir('sockhunt-store-');
    db = openAgentDb(path.join(tmp.dir, 'agent.db'));
  });
  afterEach(() => {
    db?.close();
    tmp?.remove();
    db = tmp = undefined;
  });
  return {
    get dir() {
      return current(tmp, 'agentDbEach()').dir;
    },
    get file() {
      return path.join(current(tmp, 'agentDbEach()').dir, 'agent.db');
    },
    get db() {
      return current(db, 'agentDbEach()');
    },
    set db(next: AgentDb) {
      db = next;
    },
  };
}

export interface AgentStoreFixture {
  readonly dir: string;
  readonly store: AgentStore;
}

/** Before each test: the whole agent store (openAgentStore) at agent.db in a fresh temp dir; after it: closed, dir removed. */
export function agentStoreEach(): AgentStoreFixture {
  let tmp: TempDir | undefined;
  let store: AgentStore | undefined;
  beforeEach(() => {
    tmp = tempDir('sockhunt-store-');
    store = openAgentStore(path.join(tmp.dir, 'agent.db'));
  });
  afterEach(() => {
    store?.close();
    tmp?.remove();
    store = tmp = undefined;
  });
  return {
    get dir() {
      return current(tmp, 'agentStoreEach()').dir;
    },
    get store() {
      return current(store, 'agentStoreEach()');
    },
  };
}

/**
 * Inside a test: an agent store in a fresh temp dir, without quick_check (the file is new) unless `opts` say
 * otherwise; the test closes it, the dir is removed when the test finishes.
 */
export function tempAgentStore(opts: AgentStoreOptions = { quickCheck: false }): AgentStore {
  const tmp = tempDir('sockhunt-store-');
  onTestFinished(() => tmp.remove());
  return openAgentStore(path.join(tmp.dir, 'agent.db'), opts);
}
