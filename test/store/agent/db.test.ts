import { beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SockhuntError } from '../../../core/errors.js';
import { MIGRATIONS, SOCKHUNT_APPLICATION_ID, defaultAgentDbPath, defaultStateDir, openAgentDb } from '../../../store/agent/db.js';
import { openAgentStore } from '../../../store/agent/index.js';
import { mapSqliteError } from '../../../store/sqlite/errors.js';
import { row } from '../../support/rows.js';
import { tempDirEach } from '../../support/tmp.js';
import { errorCode } from '../../support/errors.js';

const tmp = tempDirEach();
let file: string;
beforeEach(() => {
  file = path.join(tmp.dir, 'state', 'agent.db');
});

function digest(p: string): string {
  return createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}

function listing(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

/** A store with a little of everything, closed again. */
function populate(at: string): { agentId: string } {
  const store = openAgentStore(at, { now: 1_000 });
  const agentId = store.db.agentId();
  store.transaction(() => {
    store.baseline.learn({ ts: 1_000, intervalMs: 1_000, entries: [{ row: row(), processKey: '/usr/bin/curl', isNew: true }] });
    store.history.recordStarts([{ ts: 1_000, processKey: '/usr/bin/curl', row: row(), attribution: 'socket' }], 1_000);
    store.findings.insert({
      huntId: store.findings.nextHuntId(new Date(Date.UTC(2026, 10, 28))),
      detector: 'first-seen',
      processKey: '/usr/bin/curl',
      destIp: '203.0.113.10',
      destPort: 443,
      transport: 'tcp',
      risk: 'Medium',
      confidence: 'Low',
      score: 0.4,
      firstSeen: 1_000,
      lastSeen: 1_000,
      count: 1,
      dedupeKey: 'k1',
      doc: { hello: 'world' },
    });
    store.detectorState.set('beacon', 'last', { at: 1_000 });
  });
  store.close();
  return { agentId };
}

describe('openAgentDb: a new database', () => {
  it('creates the directory (0700), the file (0600), and applies every migration', () => {
    const db = openAgentDb(file);
    expect(db.schemaVersion()).toBe(MIGRATIONS.length);
    expect(db.sqlite.pragma('application_id', { simple: true })).toBe(SOCKHUNT_APPLICATION_ID);
    expect(db.sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.sqlite.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    const tables = db.sqlite.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all();
    expect(tables).toEqual(
      expect.arrayContaining(['meta', 'baseline_process', 'baseline_destination', 'baseline_allow', 'connection_history', 'findings', 'hunt_sequence', 'detector_state']),
    );
    expect(db.agentId()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    db.close();
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('adopts an empty file and an empty SQLite database without tables', () => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '');
    openAgentDb(file).close();
    const other = path.join(tmp.dir, 'empty-sqlite.db');
    const raw = new Database(other);
    raw.pragma('user_version = 0');
    raw.exec('VACUUM');
    raw.close();
    const db = openAgentDb(other);
    expect(db.schemaVersion()).toBe(MIGRATIONS.length);
    db.close();
  });

  it('applies a newer migration to an existing database, keeping its data', () => {
    const { agentId } = populate(file);
    const extra = [...MIGRATIONS, { version: MIGRATIONS.length + 1, description: 'test', up: (d: Database.Database) => d.exec('CREATE TABLE extra (x)') }];
    const db = openAgentDb(file, { migrations: extra });
    expect(db.schemaVersion()).toBe(MIGRATIONS.length + 1);
    expect(db.agentId()).toBe(agentId);
    expect(db.sqlite.prepare('SELECT count(*) FROM findings').pluck().get()).toBe(1);
    db.close();
  });

  it('rolls a failing migration back completely', () => {
    populate(file);
    const failing = [
      ...MIGRATIONS,
      {
        version: MIGRATIONS.length + 1,
        description: 'fails halfway',
        up: (d: Database.Database) => {
          d.exec('CREATE TABLE half_done (x)');
          throw new Error('boom');
        },
      },
    ];
    expect(() => openAgentDb(file, { migrations: failing })).toThrow('boom');
    const db = openAgentDb(file);
    expect(db.schemaVersion()).toBe(MIGRATIONS.length);
    expect(db.sqlite.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'half_done'").pluck().get()).toBe(0);
    db.close();
  });

  it('rejects a migration list with gaps', () => {
    expect(() => openAgentDb(file, { migrations: [{ version: 2, description: 'x', up: () => {} }] })).toThrow(/expected 1/);
  });
});

describe('openAgentDb: reopening keeps everything', () => {
  it('keeps the agent id, baseline, history, findings, hunt id sequence and detector state', () => {
    const { agentId } = populate(file);
    const store = openAgentStore(file, { now: 2_000 });
    expect(store.db.agentId()).toBe(agentId);
    expect(store.baseline.view().hasEndpoint('/usr/bin/curl', '203.0.113.10', 443, 'tcp')).toBe(true);
    expect(store.history.view().starts('/usr/bin/curl', '203.0.113.10', 443, 'tcp')).toEqual([1_000]);
    expect(store.findings.findOpen('k1', 0)?.doc).toEqual({ hello: 'world' });
    expect(store.findings.nextHuntId(new Date(Date.UTC(2026, 10, 28, 23, 59)))).toBe('TH-HUNTIN-20261128-0002');
    expect(store.detectorState.get('beacon', 'last')).toEqual({ at: 1_000 });
    store.close();
  });
});

describe('openAgentDb: files it must not touch', () => {
  it('random bytes → SOCKHUNT_E_DB_CORRUPT, file untouched', () => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, randomBytes(8192));
    const before = digest(file);
    expect(errorCode(() => openAgentDb(file))).toBe('SOCKHUNT_E_DB_CORRUPT');
    expect(digest(file)).toBe(before);
    expect(listing(path.dirname(file))).toEqual(['agent.db']);
  });

  it('a short non-SQLite file (a text file) → SOCKHUNT_E_DB_CORRUPT', () => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, 'hello\n');
    expect(errorCode(() => openAgentDb(file))).toBe('SOCKHUNT_E_DB_CORRUPT');
    expect(fs.readFileSync(file, 'utf8')).toBe('hello\n');
  });

  it.each([
    ['at a page boundary', (size: number) => Math.floor(size / 2 / 4096) * 4096],
    ['mid-page', (size: number) => Math.floor(size / 2) + 123],
  ])('a truncated database (%s) → SOCKHUNT_E_DB_CORRUPT, file untouched', (_label, cut) => {
    const store = openAgentStore(file);
    store.transaction(() => {
      const events = Array.from({ length: 3000 }, (_, i) => ({
        ts: 1_000 + i,
        processKey: `/usr/bin/app-${i % 50}`,
        row: row({ inode: 10_000 + i, dstIp: `198.51.100.${i % 250}` }),
        attribution: 'socket' as const,
      }));
      store.history.recordStarts(events, 5_000);
    });
    store.close();
    const size = fs.statSync(file).size;
    expect(size).toBeGreaterThan(16 * 4096);
    fs.truncateSync(file, cut(size));
    const before = digest(file);
    expect(errorCode(() => openAgentDb(file))).toBe('SOCKHUNT_E_DB_CORRUPT');
    expect(digest(file)).toBe(before);
  });

  it('a database with a scribbled page → SOCKHUNT_E_DB_CORRUPT', () => {
    populate(file);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, randomBytes(4096), 0, 4096, 4096 * 2);
    fs.closeSync(fd);
    const before = digest(file);
    expect(errorCode(() => openAgentDb(file))).toBe('SOCKHUNT_E_DB_CORRUPT');
    expect(digest(file)).toBe(before);
  });

  it('another application’s SQLite database → SOCKHUNT_E_DB_FOREIGN, file untouched', () => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const raw = new Database(file);
    raw.exec("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT); INSERT INTO moz_places (url) VALUES ('https://example.com')");
    raw.close();
    const before = digest(file);
    expect(errorCode(() => openAgentDb(file))).toBe('SOCKHUNT_E_DB_FOREIGN');
    expect(digest(file)).toBe(before);
    expect(listing(path.dirname(file))).toEqual(['agent.db']);
  });

  it('a database with another application_id, even without tables → SOCKHUNT_E_DB_FOREIGN', () => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const raw = new Database(file);
    raw.pragma('application_id = 1234');
    raw.close();
    expect(errorCode(() => openAgentDb(file))).toBe('SOCKHUNT_E_DB_FOREIGN');
  });

  it('a newer schema → SOCKHUNT_E_DB_NEWER, file untouched', () => {
    populate(file);
    const raw = new Database(file);
    raw.pragma(`user_version = ${MIGRATIONS.length + 5}`);
    raw.close();
    const before = digest(file);
    expect(errorCode(() => openAgentDb(file))).toBe('SOCKHUNT_E_DB_NEWER');
    expect(digest(file)).toBe(before);
  });

  it('a directory where the file should be → SOCKHUNT_E_DB_OPEN', () => {
    fs.mkdirSync(file, { recursive: true });
    expect(errorCode(() => openAgentDb(file))).toBe('SOCKHUNT_E_DB_OPEN');
  });
});

describe('transactions', () => {
  it('runs after-commit hooks only on commit, and a failed nested part can be caught without losing the rest', () => {
    const db = openAgentDb(file);
    const seen: string[] = [];
    expect(() =>
      db.transaction(() => {
        db.setMeta('a', '1');
        db.afterCommit(() => seen.push('rolled back'));
        throw new Error('abort');
      }),
    ).toThrow('abort');
    expect(db.getMeta('a')).toBeNull();
    db.transaction(() => {
      db.setMeta('b', '1');
      db.afterCommit(() => seen.push('outer'));
      try {
        db.transaction(() => {
          db.setMeta('c', '1');
          db.afterCommit(() => seen.push('inner failed'));
          throw new Error('inner');
        });
      } catch {
        // the outer transaction goes on
      }
      expect(seen).toEqual([]);
    });
    expect(seen).toEqual(['outer']);
    expect(db.getMeta('b')).toBe('1');
    expect(db.getMeta('c')).toBeNull();
    db.close();
  });

  it('runs rollback hooks of what rolled back, newest first, and never after a commit', () => {
    const db = openAgentDb(file);
    const seen: string[] = [];
    db.onRollback(() => seen.push('outside a transaction'));
    expect(() =>
      db.transaction(() => {
        db.onRollback(() => seen.push('first'));
        db.transaction(() => db.onRollback(() => seen.push('nested, committed into the outer')));
        db.onRollback(() => seen.push('last'));
        throw new Error('abort');
      }),
    ).toThrow('abort');
    expect(seen).toEqual(['last', 'nested, committed into the outer', 'first']);
    seen.length = 0;
    db.transaction(() => {
      db.onRollback(() => seen.push('outer'));
      try {
        db.transaction(() => {
          db.onRollback(() => seen.push('inner'));
          throw new Error('inner');
        });
      } catch {
        // the outer goes on
      }
    });
    expect(seen).toEqual(['inner']);
    db.close();
  });

  it('runs close hooks once, before closing, even when one throws', () => {
    const db = openAgentDb(file);
    const seen: string[] = [];
    db.beforeClose(() => {
      db.setMeta('written-at-close', 'yes');
      seen.push('a');
    });
    db.beforeClose(() => {
      throw new Error('lost');
    });
    db.beforeClose(() => seen.push('c'));
    db.close();
    db.close();
    expect(seen).toEqual(['a', 'c']);
    const again = openAgentDb(file);
    expect(again.getMeta('written-at-close')).toBe('yes');
    again.close();
  });

  it('maps SQLite write and corruption codes to the catalogue, leaving others alone', () => {
    const sqliteError = (code: string) => Object.assign(new Error(code), { code });
    const mapped = (code: string) => (mapSqliteError(sqliteError(code), 'write', '/x') as SockhuntError).code;
    expect(mapped('SQLITE_FULL')).toBe('SOCKHUNT_E_DB_WRITE');
    expect(mapped('SQLITE_READONLY_DBMOVED')).toBe('SOCKHUNT_E_DB_WRITE');
    expect(mapped('SQLITE_IOERR_WRITE')).toBe('SOCKHUNT_E_DB_WRITE');
    expect(mapped('SQLITE_BUSY')).toBe('SOCKHUNT_E_DB_WRITE');
    expect(mapped('SQLITE_CORRUPT')).toBe('SOCKHUNT_E_DB_CORRUPT');
    expect(mapped('SQLITE_NOTADB')).toBe('SOCKHUNT_E_DB_CORRUPT');
    const constraint = sqliteError('SQLITE_CONSTRAINT_PRIMARYKEY');
    expect(mapSqliteError(constraint, 'write', '/x')).toBe(constraint);
    const cause = sqliteError('SQLITE_FULL');
    expect((mapSqliteError(cause, 'write', '/x') as SockhuntError).cause).toBe(cause);
  });
});

describe('where things live', () => {
  it('follows $SOCKHUNT_HOME, root, $XDG_STATE_HOME, ~/.local/state', () => {
    expect(defaultStateDir({ SOCKHUNT_HOME: '/srv/sh' }, 0, '/home/u')).toBe('/srv/sh');
    expect(defaultStateDir({ SOCKHUNT_HOME: 'rel' }, 1000, '/home/u')).toBe(path.resolve('rel'));
    expect(defaultStateDir({}, 0, '/root')).toBe('/var/lib/sockhunt');
    expect(defaultStateDir({ XDG_STATE_HOME: '/xdg' }, 1000, '/home/u')).toBe('/xdg/sockhunt');
    expect(defaultStateDir({ XDG_STATE_HOME: 'relative' }, 1000, '/home/u')).toBe('/home/u/.local/state/sockhunt');
    expect(defaultStateDir({}, 1000, '/home/u')).toBe('/home/u/.local/state/sockhunt');
    expect(defaultAgentDbPath({}, 1000, '/home/u')).toBe('/home/u/.local/state/sockhunt/agent.db');
  });
});
