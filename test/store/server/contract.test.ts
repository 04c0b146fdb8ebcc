import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { openAgentDb, SOCKHUNT_APPLICATION_ID } from '../../../store/agent/db.js';
import { openServerDb, SOCKHUNT_SERVER_APPLICATION_ID, defaultServerDbPath } from '../../../store/server/db.js';
import { SERVER_SCHEMA_VERSION } from '../../../store/server/migrations.js';
import { SockhuntError } from '../../../core/errors.js';
import { openServerStore, type ServerStore } from '../../../store/server/index.js';
import { ThreadedServerStore } from '../../../store/server/sqlite-thread.js';
import { riskFromScore } from '../../../core/risk.js';
import { DEFAULT_FLEET_PARAMS, prevalenceRules } from '../../../server/fleet.js';
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

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('openServerStore', () => {
  async function opensSqliteAt(url: string, file: string): Promise<void> {
    const store = openServerStore(url);
    expect(store.kind).toBe('sqlite');
    await store.setSetting('k', 'v');
    await store.close();
    const db = new Database(file, { readonly: true });
    expect(db.pragma('application_id', { simple: true })).toBe(SOCKHUNT_SERVER_APPLICATION_ID);
    expect(db.prepare('SELECT value FROM settings WHERE key = ?').pluck().get('k')).toBe('v');
    db.close();
  }

  it('opens SQLite at a plain path, a sqlite: URL and a file: URL', async () => {
    const plain = path.join(tmp.dir, 'plain.db');
    await opensSqliteAt(plain, plain);
    const sqlite = path.join(tmp.dir, 'sqlite.db');
    await opensSqliteAt(`sqlite:${sqlite}`, sqlite);
    const sqlite3 = path.join(tmp.dir, 'sqlite3.db');
    await opensSqliteAt(`sqlite://${sqlite3}`, sqlite3);
    const file = path.join(tmp.dir, 'file url.db');
    await opensSqliteAt(pathToFileURL(file).href, file);
  });

  it('opens SQLite on its own thread when asked', async () => {
    const warnings: string[] = [];
    const store = openServerStore(`sqlite:${path.join(tmp.dir, 'server.db')}`, { thread: true, warn: (m) => warnings.push(m) });
    expect(store).toBeInstanceOf(ThreadedServerStore);
    expect(store.kind).toBe('sqlite');
    await store.close();
    expect(warnings).toEqual([]);
  });

  it('refuses postgres:// (not built yet), an unknown scheme and an empty sqlite: URL with SOCKHUNT_E_USAGE', () => {
    for (const url of ['postgres://hunt@db.example/sockhunt', 'postgresql://db.example/sockhunt', 'mysql://db.example/sockhunt', 'sqlite:']) {
      const err = thrownBy(() => openServerStore(url));
      expect(err, url).toBeInstanceOf(SockhuntError);
      expect((err as SockhuntError).code, url).toBe('SOCKHUNT_E_USAGE');
    }
    expect(fs.readdirSync(tmp.dir)).toEqual([]);
  });
});

/**
 * The cases every ServerStore implementation passes: `factory` opens one at a path in a fresh directory
 * (each case closes its store).
 */
function describeServerStoreContract(name: string, factory: (file: string) => ServerStore): void {
  const open = (): ServerStore => factory(path.join(tmp.dir, 'server.db'));
  const day = 86_400_000;
  const now = Date.parse('2026-11-28T12:00:00Z');

  async function enrolled(store: ServerStore, at = now): Promise<string> {
    const agentId = randomUUID();
    await store.enrollHost({ agentId, facts: HOST_FACTS, agentVersion: 't', tokenHash: hashSecret(agentId), now: at }, { who: 't', action: 'host.enroll', target: agentId });
    return agentId;
  }

  async function refreshed(store: ServerStore): Promise<number> {
    let updated = 0;
    for (;;) {
      const r = await store.refreshFleet(1000);
      updated += r.updated;
      if (!r.more) return updated;
    }
  }

  describe(`ServerStore contract: ${name}`, () => {
    it('prunes findings, audit entries, seqs and stack-counting rows older than the retention', async () => {
      const store = open();
      const agentId = await enrolled(store, now - 100 * day);
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

    it('generates a secret once (hash stored), reuses the stored hash, and replaces it with a given secret', async () => {
      const store = open();
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

    it('applies no prevalence modifier without rules: the stored score and risk are the agent’s', async () => {
      const store = open();
      const agentId = await enrolled(store);
      await store.ingestBatch(agentId, encodeBatch([prepareFinding(1, finding({ agentId, risk: 'Medium', score: 0.5 }))]), now);
      expect(await refreshed(store)).toBe(0);
      const [f] = (await store.listFindings({}, { limit: 10, cursor: null, sort: 'risk' })).items;
      expect(f).toMatchObject({ risk: 'Medium', endpointRisk: 'Medium', score: 0.5, endpointScore: 0.5, prevalence: { hosts: 1, fleetSize: 1, modifier: 0 } });
      await store.close();
    });

    it('re-scores stored findings when the prevalence rules change, and scores new ones with the rules in force', async () => {
      const store = open();
      const agentId = await enrolled(store);
      const first = finding({ agentId, ip: '198.51.100.1', risk: 'Medium', score: 0.5 });
      await store.ingestBatch(agentId, encodeBatch([prepareFinding(1, first)]), now);
      // In a fleet of 1, the one host's destination is common (share 1 ≥ 0.5) once 1 host is enough to lower.
      const lowering = prevalenceRules({ ...DEFAULT_FLEET_PARAMS, minHostsToLower: 1 });
      const modifier = -DEFAULT_FLEET_PARAMS.commonDecrease;
      const lowered = { score: 0.35, risk: riskFromScore(0.35), endpointScore: 0.5, endpointRisk: 'Medium', prevalence: { hosts: 1, fleetSize: 1, modifier } };
      await store.setPrevalenceRules(lowering);
      expect(await refreshed(store)).toBe(1);
      expect(await store.getFinding(first.event.id)).toMatchObject(lowered);
      // The same rules again change nothing.
      await store.setPrevalenceRules(lowering);
      expect(await refreshed(store)).toBe(0);

      const second = finding({ agentId, ip: '198.51.100.2', risk: 'Medium', score: 0.5 });
      await store.ingestBatch(agentId, encodeBatch([prepareFinding(2, second)]), now);
      expect(await store.getFinding(second.event.id)).toMatchObject(lowered);
      const page = await store.listFindings({}, { limit: 10, cursor: null, sort: 'recent' });
      expect(page.items.map((f) => f.prevalence.modifier)).toEqual([modifier, modifier]);

      // No rules: back to the agent's scores.
      await store.setPrevalenceRules([]);
      expect(await refreshed(store)).toBe(2);
      for (const f of [first, second]) {
        expect(await store.getFinding(f.event.id)).toMatchObject({ score: 0.5, risk: 'Medium', prevalence: { hosts: 1, fleetSize: 1, modifier: 0 } });
      }
      await store.close();
    });
  });
}

describeServerStoreContract('SQLite on the caller’s thread', (file) => openServerStore(file));
describeServerStoreContract('SQLite on its own thread', (file) => openServerStore(`sqlite:${file}`, { thread: true }));
