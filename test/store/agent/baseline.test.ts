import { beforeEach, describe, expect, it } from 'vitest';
import path from 'node:path';
import { parseAllowDestination } from '../../../core/allow.js';
import { BaselineStore, learnEntriesOf, type LearnEntry } from '../../../store/agent/baseline.js';
import { openAgentDb } from '../../../store/agent/db.js';
import { row, type RowSpec } from '../../support/rows.js';
import { agentDbEach } from '../../support/stores.js';
import { errorCode } from '../../support/errors.js';

const CURL = '/usr/bin/curl';
const PY = '/usr/bin/python3.11 /opt/app/worker.py';

const fx = agentDbEach();
let baseline: BaselineStore;
beforeEach(() => {
  baseline = new BaselineStore(fx.db);
});

function entry(spec: RowSpec, processKey: string | null = CURL, isNew = true, domain?: string): LearnEntry {
  return { row: row(spec), processKey, isNew, ...(domain ? { domain } : {}) };
}

function destinations(store: BaselineStore, key: string): string[] {
  const file = store.export();
  return (file.processes.find((p) => p.key === key)?.destinations ?? []).map((d) => `${d.grain} ${d.value}`).sort();
}

describe('learning', () => {
  it('records each grain: endpoint, /24 or /48 network, port, domain', () => {
    baseline.learn({
      ts: 1_000,
      intervalMs: 1_000,
      entries: [
        entry({ dstIp: '203.0.113.10', dstPort: 443, inode: 1 }, CURL, true, 'Example.COM.'),
        entry({ dstIp: '2001:DB8:0:0:1::5', dstPort: 8443, inode: 2 }),
        entry({ dstIp: '::ffff:198.51.100.7', dstPort: 53, transport: 'udp', inode: 3 }),
      ],
    });
    expect(destinations(baseline, CURL)).toEqual([
      'domain example.com',
      'endpoint 198.51.100.7:53/udp',
      'endpoint 203.0.113.10:443/tcp',
      'endpoint [2001:db8::1:0:0:5]:8443/tcp',
      'network 198.51.100.0/24',
      'network 2001:db8::/48',
      'network 203.0.113.0/24',
      'port 443/tcp',
      'port 53/udp',
      'port 8443/tcp',
    ]);
    const view = baseline.view();
    expect(view.hasProcess(CURL)).toBe(true);
    expect(view.hasEndpoint(CURL, '2001:db8::1:0:0:5', 8443, 'tcp')).toBe(true);
    expect(view.hasEndpoint(CURL, '2001:0db8:0000::1:0:0:5', 8443, 'tcp')).toBe(true);
    expect(view.hasEndpoint(CURL, '2001:db8::1:0:0:5', 8443, 'udp')).toBe(false);
    expect(view.hasNetwork(CURL, '203.0.113.200')).toBe(true);
    expect(view.hasNetwork(CURL, '203.0.114.1')).toBe(false);
    expect(view.hasNetwork(CURL, '2001:db8:0:ffff::1')).toBe(true);
    expect(view.hasNetwork(CURL, '2001:db8:1::1')).toBe(false);
    expect(view.hasNetwork(CURL, '::ffff:198.51.100.99')).toBe(true);
    expect(view.hasPort(CURL, 443, 'tcp')).toBe(true);
    expect(view.hasPort(CURL, 443, 'udp')).toBe(false);
    expect(view.hasDomain(CURL, 'example.com')).toBe(true);
    expect(view.hasProcess(PY)).toBe(false);
    expect(view.hasEndpoint(PY, '203.0.113.10', 443, 'tcp')).toBe(false);
  });

  it('does not learn listeners, unconnected UDP, accepted connections or loopback; counts rates', () => {
    baseline.learn({
      ts: 1_000,
      intervalMs: 60_000,
      entries: [
        entry({ state: 'LISTEN', dstIp: '0.0.0.0', dstPort: 0, inode: 1 }, PY),
        entry({ state: 'UNCONNECTED', transport: 'udp', dstIp: '0.0.0.0', dstPort: 0, inode: 2 }, PY),
        entry({ direction: 'ingress', dstIp: '198.51.100.20', dstPort: 51515, inode: 3 }, PY),
        entry({ dstIp: '127.0.0.1', dstPort: 5432, inode: 4 }, PY),
        entry({ dstIp: '127.0.0.53', dstPort: 53, transport: 'udp', inode: 5 }, PY),
        entry({ dstIp: '::1', dstPort: 6379, inode: 6 }, PY),
        entry({ dstIp: '203.0.113.5', dstPort: 443, inode: 7 }, PY),
        entry({ dstIp: '203.0.113.5', dstPort: 443, inode: 8 }, PY, false),
        entry({ dstIp: '203.0.113.9', dstPort: 443, inode: 9 }, null),
      ],
    });
    expect(destinations(baseline, PY)).toEqual(['endpoint 203.0.113.5:443/tcp', 'network 203.0.113.0/24', 'port 443/tcp']);
    const view = baseline.view();
    expect(view.processCount()).toBe(1);
    // Egress starts, loopback included: 127.0.0.1, 127.0.0.53, ::1, 203.0.113.5 (the second row is not new).
    expect(view.connectionRate(PY)).toBe(4);
    expect(view.dnsRate(PY)).toBe(1);
    expect(view.connectionRate(CURL)).toBeNull();
  });

  it('counts samples and distinct connections, widens first/last seen, and accumulates learning time', () => {
    const conn = { dstIp: '203.0.113.10', dstPort: 443, inode: 42 };
    baseline.learn({ ts: 1_000, intervalMs: 30_000, entries: [entry(conn, CURL, true)] });
    baseline.learn({ ts: 31_000, intervalMs: 30_000, entries: [entry(conn, CURL, false), entry({ ...conn, inode: 43 }, CURL, true)] });
    baseline.learn({ ts: 61_000, intervalMs: 30_000, entries: [] });
    const file = baseline.export();
    const p = file.processes[0];
    expect(p).toMatchObject({ key: CURL, samples: 2, connections: 2, first_seen: new Date(1_000).toISOString(), last_seen: new Date(31_000).toISOString() });
    expect(p?.destinations.find((d) => d.grain === 'endpoint')).toMatchObject({ samples: 2, connections: 2 });
    expect(file.learning_ms).toBe(90_000);
    expect(baseline.view().connectionRate(CURL)).toBeCloseTo(2 / 1.5);
    expect(baseline.summary()).toMatchObject({ processes: 1, learningMs: 90_000, destinations: { endpoint: 1, network: 1, port: 1, domain: 0 } });
  });

  it('builds entries from a sample: rows, which are new, and starts whose socket is already gone', () => {
    const old = row({ inode: 1 });
    const fresh = row({ inode: 2, dstIp: '198.51.100.2' });
    const gone = row({ inode: 0, srcPort: 50000, dstIp: '192.0.2.99', state: 'TIME_WAIT', pid: null });
    const entries = learnEntriesOf(
      [old, fresh],
      [
        { ts: 1, processKey: CURL, row: fresh, attribution: 'socket' },
        { ts: 1, processKey: PY, row: gone, attribution: 'inferred' },
      ],
      () => CURL,
      (ip) => (ip === '198.51.100.2' ? 'api.example.net' : null),
    );
    expect(entries.map((e) => [e.row.destination.ip, e.processKey, e.isNew, e.domain])).toEqual([
      ['203.0.113.10', CURL, false, null],
      ['198.51.100.2', CURL, true, 'api.example.net'],
      ['192.0.2.99', PY, true, null],
    ]);
  });

  it('keeps the view unchanged when the sample’s transaction rolls back', () => {
    const view = baseline.view();
    expect(() =>
      fx.db.transaction(() => {
        baseline.learn({ ts: 1_000, intervalMs: 1_000, entries: [entry({})] });
        throw new Error('later write failed');
      }),
    ).toThrow('later write failed');
    expect(view.processCount()).toBe(0);
    expect(baseline.summary().processes).toBe(0);
  });
});

describe('allow patterns', () => {
  it('matches process key or *, address, IPv4/IPv6 CIDR or *, port and transport', () => {
    baseline.allow({ process: CURL, destination: '10.0.0.0/8', port: null, transport: null, source: 'cli' });
    baseline.allow({ process: '*', destination: '2001:db8:abcd::/48', port: 443, transport: 'tcp', source: 'server' });
    baseline.allow({ process: PY, destination: '*', port: 53, transport: 'udp', source: 'cli' });
    baseline.allow({ process: PY, destination: '198.51.100.7', port: null, transport: null, source: 'cli', comment: 'license server' });
    const v = baseline.view();
    expect(v.isAllowed(CURL, '10.200.3.4', 22, 'tcp')).toBe(true);
    expect(v.isAllowed(CURL, '::ffff:10.1.1.1', 22, 'tcp')).toBe(true);
    expect(v.isAllowed(CURL, '11.0.0.1', 22, 'tcp')).toBe(false);
    expect(v.isAllowed(PY, '10.0.0.1', 22, 'tcp')).toBe(false);
    expect(v.isAllowed('/any/thing', '2001:db8:abcd:1234::1', 443, 'tcp')).toBe(true);
    expect(v.isAllowed('/any/thing', '2001:db8:abcd:1234::1', 443, 'udp')).toBe(false);
    expect(v.isAllowed('/any/thing', '2001:db8:abcd:1234::1', 80, 'tcp')).toBe(false);
    expect(v.isAllowed('/any/thing', '2001:db8:abce::1', 443, 'tcp')).toBe(false);
    expect(v.isAllowed(PY, '8.8.8.8', 53, 'udp')).toBe(true);
    expect(v.isAllowed(PY, '8.8.8.8', 53, 'tcp')).toBe(false);
    expect(v.isAllowed(PY, '198.51.100.7', 1, 'udp')).toBe(true);
    expect(v.isAllowed(PY, '198.51.100.8', 1, 'udp')).toBe(false);
    expect(baseline.listAllow().find((r) => r.destination === '198.51.100.7')?.comment).toBe('license server');
  });

  it('canonicalises, deduplicates, removes and replaces rules by source', () => {
    const a = baseline.allow({ process: CURL, destination: '10.1.2.3/8', port: null, transport: null, source: 'cli' });
    expect(a.destination).toBe('10.0.0.0/8');
    const again = baseline.allow({ process: CURL, destination: '10.0.0.0/8', port: null, transport: null, source: 'cli', comment: 'x' });
    expect(again.id).toBe(a.id);
    baseline.allow({ process: '*', destination: '2001:0DB8::/32', port: null, transport: null, source: 'server' });
    expect(baseline.listAllow().map((r) => r.destination)).toEqual(['10.0.0.0/8', '2001:db8::/32']);
    expect(baseline.replaceAllow('server', [{ process: '*', destination: '192.0.2.0/24', port: 443, transport: 'tcp' }])).toBe(1);
    expect(baseline.view().isAllowed(PY, '2001:db8::1', 1, 'tcp')).toBe(false);
    expect(baseline.view().isAllowed(PY, '192.0.2.9', 443, 'tcp')).toBe(true);
    expect(baseline.removeAllow(a.id)).toBe(true);
    expect(baseline.view().isAllowed(CURL, '10.0.0.1', 1, 'tcp')).toBe(false);
    expect(errorCode(() => baseline.allow({ process: CURL, destination: '10.0.0.0/33', port: null, transport: null, source: 'cli' }))).toBe('SOCKHUNT_E_INPUT');
    expect(errorCode(() => baseline.allow({ process: '', destination: '*', port: null, transport: null, source: 'cli' }))).toBe('SOCKHUNT_E_INPUT');
    expect(errorCode(() => baseline.allow({ process: CURL, destination: 'example.com', port: null, transport: null, source: 'cli' }))).toBe('SOCKHUNT_E_INPUT');
    expect(errorCode(() => baseline.allow({ process: CURL, destination: '*', port: 70000, transport: null, source: 'cli' }))).toBe('SOCKHUNT_E_INPUT');
  });

  it('parses the command-line destination form', () => {
    expect(parseAllowDestination('*')).toEqual({ destination: '*', port: null, transport: null });
    expect(parseAllowDestination('*:443/tcp')).toEqual({ destination: '*', port: 443, transport: 'tcp' });
    expect(parseAllowDestination('10.0.0.0/8')).toEqual({ destination: '10.0.0.0/8', port: null, transport: null });
    expect(parseAllowDestination('10.0.0.0/8:8080')).toEqual({ destination: '10.0.0.0/8', port: 8080, transport: null });
    expect(parseAllowDestination('203.0.113.7:53/UDP')).toEqual({ destination: '203.0.113.7', port: 53, transport: 'udp' });
    expect(parseAllowDestination('2001:db8::/32')).toEqual({ destination: '2001:db8::/32', port: null, transport: null });
    expect(parseAllowDestination('2001:db8::/32/udp')).toEqual({ destination: '2001:db8::/32', port: null, transport: 'udp' });
    expect(parseAllowDestination('[2001:db8::1]:443/tcp')).toEqual({ destination: '2001:db8::1', port: 443, transport: 'tcp' });
    expect(parseAllowDestination('[fd00::/8]:22')).toEqual({ destination: 'fd00::/8', port: 22, transport: null });
    for (const bad of ['[2001:db8::1', '1.2.3.4:0', '1.2.3.4:99999', 'nope', '[::1]x']) {
      expect(errorCode(() => parseAllowDestination(bad)), bad).toBe('SOCKHUNT_E_INPUT');
    }
  });
});

describe('export, import, diff', () => {
  function learnSome(store: BaselineStore, ts: number, ips: string[], key = CURL): void {
    store.learn({ ts, intervalMs: 60_000, entries: ips.map((ip, i) => entry({ dstIp: ip, inode: ts + i }, key)) });
  }

  it('round-trips through JSON into another database, merging with what is there', () => {
    learnSome(baseline, 1_000, ['203.0.113.10', '2001:db8::7']);
    baseline.allow({ process: '*', destination: '192.0.2.0/24', port: null, transport: null, source: 'cli' });
    const exported = JSON.parse(JSON.stringify(baseline.export({ name: 'golden' }))) as unknown;

    const otherDb = openAgentDb(path.join(fx.dir, 'other.db'));
    try {
      const other = new BaselineStore(otherDb);
      learnSome(other, 5_000, ['198.51.100.1'], PY);
      learnSome(other, 6_000, ['203.0.113.10']);
      const view = other.view();
      const result = other.import(exported);
      expect(result).toEqual({ alreadyImported: false, processes: 1, destinations: 5, allowRules: 1 });
      expect(view.hasEndpoint(CURL, '2001:db8::7', 443, 'tcp')).toBe(true);
      expect(view.hasEndpoint(PY, '198.51.100.1', 443, 'tcp')).toBe(true);
      expect(view.isAllowed(PY, '192.0.2.5', 1, 'udp')).toBe(true);
      const merged = other.export().processes.find((p) => p.key === CURL);
      expect(merged).toMatchObject({ samples: 2, connections: 3, first_seen: new Date(1_000).toISOString(), last_seen: new Date(6_000).toISOString() });
      expect(other.summary().learningMs).toBe(3 * 60_000);
      // The same export again changes nothing.
      expect(other.import(exported).alreadyImported).toBe(true);
      expect(other.export().processes.find((p) => p.key === CURL)?.samples).toBe(2);
    } finally {
      otherDb.close();
    }
  });

  it('rejects an invalid file with SOCKHUNT_E_INPUT', () => {
    learnSome(baseline, 1_000, ['203.0.113.10']);
    const good = JSON.parse(JSON.stringify(baseline.export())) as { processes: Array<{ destinations: Array<{ value: string }> }>; [k: string]: unknown };
    const variants: unknown[] = [
      null,
      'text',
      { ...good, version: 2 },
      { ...good, format: 'other' },
      { ...good, extra: 1 },
      { ...good, export_id: 'not-a-uuid' },
      { ...good, learning_ms: -1 },
      { ...good, processes: [{ ...good.processes[0], destinations: [{ ...good.processes[0]?.destinations[0], value: '999.1.1.1:443/tcp' }] }] },
      { ...good, allow: [{ process: '*', destination: 'evil', port: null, transport: null, source: 'cli' }] },
    ];
    for (const v of variants) expect(errorCode(() => baseline.import(v)), JSON.stringify(v)?.slice(0, 80)).toBe('SOCKHUNT_E_INPUT');
    expect(() => baseline.import({ ...good, version: 7 })).toThrow(/newer/);
  });

  it('diffs two exports: added/removed processes, destinations and allow rules', () => {
    learnSome(baseline, 1_000, ['203.0.113.10']);
    learnSome(baseline, 1_000, ['198.51.100.1'], '/usr/sbin/ntpd');
    const a = baseline.export();
    learnSome(baseline, 2_000, ['2001:db8::1']);
    learnSome(baseline, 2_000, ['192.0.2.1'], PY);
    baseline.allow({ process: PY, destination: '10.0.0.0/8', port: null, transport: null, source: 'cli' });
    const b = baseline.export();
    const removedNtpd = { ...b, processes: b.processes.filter((p) => p.key !== '/usr/sbin/ntpd') };
    const d = BaselineStore.diff(a, removedNtpd);
    expect(d.addedProcesses).toEqual([PY]);
    expect(d.removedProcesses).toEqual(['/usr/sbin/ntpd']);
    expect(d.addedDestinations.filter((x) => x.processKey === CURL).map((x) => `${x.grain} ${x.value}`).sort()).toEqual([
      'endpoint [2001:db8::1]:443/tcp',
      'network 2001:db8::/48',
    ]);
    expect(d.addedDestinations.filter((x) => x.processKey === PY)).toHaveLength(3);
    expect(d.removedDestinations.every((x) => x.processKey === '/usr/sbin/ntpd')).toBe(true);
    expect(d.addedAllow).toEqual([{ process: PY, destination: '10.0.0.0/8', port: null, transport: null }]);
    expect(d.removedAllow).toEqual([]);
    expect(BaselineStore.diff(a, a)).toEqual({ addedProcesses: [], removedProcesses: [], addedDestinations: [], removedDestinations: [], addedAllow: [], removedAllow: [] });
  });
});

describe('the view follows other processes’ writes', () => {
  it('refresh() reloads after another connection changed the baseline, and only then', () => {
    learnSome(1_000);
    const view = baseline.view();
    expect(baseline.refresh()).toBe(false);
    const cliDb = openAgentDb(fx.db.path);
    try {
      new BaselineStore(cliDb).allow({ process: CURL, destination: '192.0.2.0/24', port: null, transport: null, source: 'cli' });
    } finally {
      cliDb.close();
    }
    expect(view.isAllowed(CURL, '192.0.2.1', 443, 'tcp')).toBe(false);
    expect(baseline.refresh()).toBe(true);
    expect(view.isAllowed(CURL, '192.0.2.1', 443, 'tcp')).toBe(true);
    expect(view.hasEndpoint(CURL, '203.0.113.10', 443, 'tcp')).toBe(true);
    expect(baseline.refresh()).toBe(false);
    // Our own learning after someone else's write brings both into the view.
    const cli2 = openAgentDb(fx.db.path);
    new BaselineStore(cli2).allow({ process: CURL, destination: '198.18.0.0/15', port: null, transport: null, source: 'cli' });
    cli2.close();
    baseline.learn({ ts: 2_000, intervalMs: 1_000, entries: [entry({ dstIp: '203.0.113.99', inode: 9 })] });
    expect(view.isAllowed(CURL, '198.18.1.1', 1, 'tcp')).toBe(true);
    expect(view.hasEndpoint(CURL, '203.0.113.99', 443, 'tcp')).toBe(true);
  });

  function learnSome(ts: number): void {
    baseline.learn({ ts, intervalMs: 1_000, entries: [entry({ dstIp: '203.0.113.10', inode: ts })] });
  }
});

describe('learning writes repeats in batches', () => {
  // Seeded samples: a few processes, destinations that repeat and new ones now and then, loopback, DNS, domains.
  function samples(n: number): Array<{ ts: number; entries: LearnEntry[] }> {
    let seed = 42;
    const rand = (k: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % k;
    };
    const keys = [CURL, PY, '/usr/sbin/chronyd', null];
    const out: Array<{ ts: number; entries: LearnEntry[] }> = [];
    let inode = 1;
    for (let s = 0; s < n; s++) {
      const entries: LearnEntry[] = [];
      for (let k = 0; k < 12; k++) {
        const key = keys[rand(keys.length)]!;
        const d = rand(s < n / 2 ? 20 : 40);
        const spec: RowSpec =
          d === 0
            ? { dstIp: '127.0.0.1', dstPort: 5432, inode: inode++ }
            : d === 1
              ? { dstIp: '198.51.100.53', dstPort: 53, transport: 'udp', inode: inode++ }
              : { dstIp: `203.0.${113 + (d % 3)}.${d}`, dstPort: [443, 80, 8443][d % 3]!, inode: inode++ };
        entries.push(entry(spec, key, rand(3) === 0, d % 7 === 0 ? `host${d}.example.com` : undefined));
      }
      out.push({ ts: 1_000 + s * 1_000, entries });
    }
    return out;
  }

  const strip = (f: ReturnType<BaselineStore['export']>) => ({ learning_ms: f.learning_ms, processes: f.processes });

  it('ends with the same baseline as writing every sample, and the view is current at every sample', () => {
    const other = openAgentDb(path.join(fx.dir, 'every-sample.db'));
    try {
      const batched = new BaselineStore(fx.db, { flushEveryMs: 30_000 });
      const eager = new BaselineStore(other, { flushEveryMs: 0 });
      const viewB = batched.view();
      const viewE = eager.view();
      for (const s of samples(200)) {
        const a = batched.learn({ ts: s.ts, intervalMs: 1_000, entries: s.entries });
        const b = eager.learn({ ts: s.ts, intervalMs: 1_000, entries: s.entries });
        expect(a).toEqual(b);
        for (const key of [CURL, PY, '/usr/sbin/chronyd', 'unattributed']) {
          expect(viewB.connectionRate(key)).toBe(viewE.connectionRate(key));
          expect(viewB.dnsRate(key)).toBe(viewE.dnsRate(key));
          expect(viewB.hasEndpoint(key, '203.0.114.7', 80, 'tcp')).toBe(viewE.hasEndpoint(key, '203.0.114.7', 80, 'tcp'));
        }
      }
      expect(strip(batched.export())).toEqual(strip(eager.export()));
    } finally {
      other.close();
    }
  });

  it('writes the sums at close, and not twice', () => {
    const batched = new BaselineStore(fx.db, { flushEveryMs: 3_600_000 });
    const list = samples(50);
    for (const s of list) batched.learn({ ts: s.ts, intervalMs: 1_000, entries: s.entries });
    const pending = fx.db.sqlite.prepare('SELECT sum(samples) FROM baseline_process').pluck().get() as number;
    fx.db.close();
    fx.db = openAgentDb(path.join(fx.dir, 'agent.db'));
    const reopened = new BaselineStore(fx.db);
    const file = reopened.export();
    const samplesWritten = file.processes.reduce((s, p) => s + p.samples, 0);
    expect(samplesWritten).toBeGreaterThan(pending);
    expect(file.learning_ms).toBe(50_000);
    // the same samples written at once elsewhere
    const other = openAgentDb(path.join(fx.dir, 'reference.db'));
    try {
      const eager = new BaselineStore(other, { flushEveryMs: 0 });
      for (const s of list) eager.learn({ ts: s.ts, intervalMs: 1_000, entries: s.entries });
      expect(strip(file)).toEqual(strip(eager.export()));
    } finally {
      other.close();
    }
  });

  it('counts nothing of a sample whose transaction rolls back', () => {
    const other = openAgentDb(path.join(fx.dir, 'reference.db'));
    try {
      const batched = new BaselineStore(fx.db, { flushEveryMs: 5_000 });
      const eager = new BaselineStore(other, { flushEveryMs: 0 });
      const list = samples(40);
      list.forEach((s, i) => {
        if (i % 9 === 4) {
          expect(() =>
            fx.db.transaction(() => {
              batched.learn({ ts: s.ts, intervalMs: 1_000, entries: s.entries });
              throw new Error('abort');
            }),
          ).toThrow('abort');
          return;
        }
        batched.learn({ ts: s.ts, intervalMs: 1_000, entries: s.entries });
        eager.learn({ ts: s.ts, intervalMs: 1_000, entries: s.entries });
      });
      expect(strip(batched.export())).toEqual(strip(eager.export()));
      expect(batched.view().connectionRate(CURL)).toBe(eager.view().connectionRate(CURL));
    } finally {
      other.close();
    }
  });
});
