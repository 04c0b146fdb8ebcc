import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { openAgentDb, SOCKHUNT_APPLICATION_ID } from '../../../store/agent/db.js';
import { openServerDb, SOCKHUNT_SERVER_APPLICATION_ID, defaultServerDbPath } from '../../../store/server/db.js';
import { SERVER_SCHEMA_VERSION } from '../../../store/server/migrations.js';
import { openSqliteServerStore } from '../../../store/server/sqlite.js';
import { hashSecret, resolveSecret, secretMatches } from '../../../server/auth.js';
import { encodeBatch, prepareFinding } from '../../../server/frames.js';
import { HOST_FACTS } from '../../support/server.js';
import { finding } from '../../support/findings.js';
import { tempDirEach } from '../../support/tmp.js';
import { errorCode } from '../../support/errors.js';

const tmp = tempDirEach();

describe('server database', () => {
  it('has its own application_id and schema version, and refuses the agent database (and vice versa)', () => {
    const file = path.join(tmp.dir, 'server.db');
    const db = openServerDb(file);
    expect(db.pragma('application_id', { simple: true })).toBe(SOCKHUNT_SERVER_APPLICATION_ID);
    expect(SOCKHUNT_SERVER_APPLICATION_ID).not.toBe(SOCKHUNT_APPLICATION_ID);
    expect(db.pragma('user_version', { simple: true })).toBe(SERVER_SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);

    const agentFile = path.join(tmp.dir, 'agent.db');
    openAgentDb(agentFile).close();
    expect(errorCode(() => openServerDb(agentFile))).toBe('SOCKHUNT_E_DB_FOREIGN');
    expect(errorCode(() => openAgentDb(file))).toBe('SOCKHUNT_E_DB_FOREIGN');
  });

  it('leaves a newer or a non-SQLite file as it is', () => {
    const newer = path.join(tmp.dir, 'newer.db');
    openServerDb(newer).close();
    const raw = new Database(newer);
    raw.pragma(`user_version = ${SERVER_SCHEMA_VERSION + 1}`);
    raw.close();
    expect(errorCode(() => openServerDb(newer))).toBe('SOCKHUNT_E_DB_NEWER');
    const junk = path.join(tmp.dir, 'junk.db');
    fs.writeFileSync(junk, 'x'.repeat(4096));
    expect(errorCode(() => openServerDb(junk))).toBe('SOCKHUNT_E_DB_CORRUPT');
    expect(fs.readFileSync(junk, 'utf8')).toBe('x'.repeat(4096));
  });

  it('lives in the state directory by default', () => {
    expect(defaultServerDbPath({ SOCKHUNT_HOME: '/srv/hunt' })).toBe('/srv/hunt/server.db');
  });
});

describe('retention', () => {
  it('prunes findings, audit entries, seqs and stack-counting rows older than the retention', async () => {
    const store = openSqliteServerStore(path.join(tmp.dir, 'server.db'));
    const agentId = randomUUID();
    const day = 86_400_000;
    const now = Date.parse('2026-11-28T12:00:00Z');
    await store.enrollHost({ agentId, facts: HOST_FACTS, agentVersion: 't', tokenHash: hashSecret('t'), now: now - 100 * day }, { who: 't', action: 'host.enroll', target: agentId });
    const old = prepareFinding(1, finding({ agentId, ip: '198.51.100.1', lastSeen: new Date(now - 95 * day).toISOString() }));
    const fresh = prepareFinding(2, finding({ agentId, ip: '198.51.100.2', lastSeen: new Date(now - day).toISOString() }));
    await store.ingestBatch(agentId, encodeBatch([{ ...old, firstSeen: old.lastSeen }, { ...fresh, firstSeen: fresh.lastSeen }]), now - 95 * day);
    await store.audit({ who: 't', action: 'old', target: null }, now - 91 * day);
    const r = await store.prune(now, 90 * day, 7 * day);
    expect(r).toEqual({ findings: 1, audit: 2, seqs: 2, destinations: 1 });
    const page = await store.listFindings({}, { limit: 10, cursor: null, sort: 'risk' });
    expect(page.items.map((f) => f.seq)).toEqual([2]);
    await store.refreshFleet(1000);
    expect((await store.listDestinations({ limit: 10 })).map((d) => d.ip)).toEqual(['198.51.100.2']);
    await store.close();
  });
});

describe('secrets', () => {
  it('generates once (hash stored), reuses the stored hash, and replaces it with a given secret', async () => {
    const store = openSqliteServerStore(path.join(tmp.dir, 'server.db'));
    const first = await resolveSecret(store, 'api_token', undefined);
    expect(first.source).toBe('generated');
    expect(first.generated).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await store.getSetting('api_token_sha256')).toBe(hashSecret(first.generated!));
    const second = await resolveSecret(store, 'api_token', undefined);
    expect(second).toEqual({ hash: first.hash, source: 'stored' });
    expect(secretMatches(first.generated!, second.hash)).toBe(true);
    expect(secretMatches('other', second.hash)).toBe(false);
    const given = await resolveSecret(store, 'api_token', 'given-token-0123456789');
    expect(given.source).toBe('given');
    expect((await resolveSecret(store, 'api_token', undefined)).hash).toBe(hashSecret('given-token-0123456789'));
    await store.close();
  });
});
