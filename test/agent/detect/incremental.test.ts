// The per-pair caches (common.ts: pairFacts, QuietPairs, DestinationIndex) must not change what the detectors
// report. One seeded workload runs through two contexts over the same data: the real window and baseline memory,
// which version their pairs and answers (so detectors cache), and wrappers that hide the versions (so every pair is
// judged afresh every sample, as before the caches). Every sample's drafts must be equal.
import { describe, expect, it } from 'vitest';
import type { Connection, Transport } from '../../../collectors/types.js';
import type { BaselineView, ConnectionEvent, DetectContext, HistoryPair, HistoryView, ProcessKey } from '../../../agent/detect/types.js';
import { UNATTRIBUTED } from '../../../agent/detect/types.js';
import { configureDetectors, runDetectors } from '../../../agent/detect/index.js';
import { QuietPairs } from '../../../agent/detect/pairs.js';
import { HistoryWindow } from '../../../store/agent/history-window.js';
import { BaselineMemory } from '../../../store/agent/baseline-view.js';
import type { AllowRule } from '../../../core/allow.js';
import { NOW, conn } from '../../support/rows.js';
import { prng } from '../../support/prng.js';

/** The window without versions: fresh pair objects, no starts on them. */
class Unversioned implements HistoryView {
  constructor(private readonly w: HistoryWindow) {}
  starts(key: ProcessKey, ip: string, port: number, transport: Transport) {
    return this.w.starts(key, ip, port, transport);
  }
  pairs(): HistoryPair[] {
    return this.w.pairs().map((p) => ({ processKey: p.processKey, ip: p.ip, port: p.port, transport: p.transport }));
  }
  events(key: ProcessKey, ip: string, port: number, transport: Transport) {
    return this.w.events(key, ip, port, transport);
  }
  lastRow(key: ProcessKey, ip: string, port: number, transport: Transport) {
    return this.w.lastRow(key, ip, port, transport);
  }
}

/** The baseline memory, counting the questions asked; `versioned: false` hides its version. */
class Counting implements BaselineView {
  questions = 0;
  constructor(
    private readonly m: BaselineMemory,
    versioned: boolean,
  ) {
    if (versioned) this.version = () => this.m.version();
  }
  version?: () => number;
  processCount() {
    return this.m.processCount();
  }
  hasProcess(k: ProcessKey) {
    return this.m.hasProcess(k);
  }
  hasEndpoint(k: ProcessKey, ip: string, port: number, t: Transport) {
    this.questions++;
    return this.m.hasEndpoint(k, ip, port, t) || this.m.hasEndpoint(UNATTRIBUTED, ip, port, t);
  }
  hasNetwork(k: ProcessKey, ip: string) {
    return this.m.hasNetwork(k, ip);
  }
  hasPort(k: ProcessKey, port: number, t: Transport) {
    return this.m.hasPort(k, port, t);
  }
  connectionRate(k: ProcessKey) {
    return this.m.connectionRate(k);
  }
  dnsRate(k: ProcessKey) {
    return this.m.dnsRate(k);
  }
  isAllowed(k: ProcessKey, ip: string, port: number, t: Transport) {
    this.questions++;
    return this.m.isAllowed(k, ip, port, t);
  }
}

const IMPLANT = '/tmp/.x/implant';
const POLLER = '/opt/agent/poll';
const APP = '/usr/bin/app';
const SCANNER = '/usr/bin/scanner';
const RESOLVER_USER = '/usr/bin/python3.11 /opt/dns.py';

interface Plan {
  key: ProcessKey | null;
  ip: string;
  port: number;
  transport?: Transport;
  attribution?: ConnectionEvent['attribution'];
  state?: Connection['socket']['state'];
}

function rowOf(p: Plan, ts: number): Connection {
  const exe = p.key === null ? null : p.key.split(' ')[0]!;
  return conn({
    exe,
    name: exe ? exe.split('/').pop()! : null,
    pid: p.key === null ? null : 4000 + (p.key.length % 50),
    ip: p.ip,
    port: p.port,
    transport: p.transport ?? 'tcp',
    state: p.state ?? 'ESTABLISHED',
    ts,
  });
}

describe('incremental detection', () => {
  it('gives the same drafts as a full pass, sample by sample, over a seeded workload', () => {
    const r = prng(20261128);
    const windowMs = 10 * 60_000;
    const window = new HistoryWindow(windowMs, 200);
    const memory = new BaselineMemory();
    const allow: AllowRule[] = [];
    memory.reset(3_600_000, allow);
    const learn = (key: ProcessKey, endpoint: string, network: string, port: string) => {
      memory.addProcess(key, 30, 0);
      memory.addDestination(key, 'endpoint', endpoint);
      memory.addDestination(key, 'network', network);
      memory.addDestination(key, 'port', port);
    };
    for (let d = 0; d < 25; d++) learn(APP, `203.0.113.${d}:443/tcp`, '203.0.113.0/24', '443/tcp');
    for (const k of ['/usr/sbin/sshd', '/usr/sbin/cron', '/usr/sbin/chronyd', '/usr/bin/apt']) learn(k, '151.101.2.132:80/tcp', '151.101.2.0/24', '80/tcp');
    learn(RESOLVER_USER, '9.9.9.9:53/udp', '9.9.9.0/24', '53/udp');

    const versioned = new Counting(memory, true);
    const plain = new Counting(memory, false);
    const plainHistory = new Unversioned(window);
    const detectors = configureDetectors({});
    const ages = new Map<number, number>();
    const longLived = rowOf({ key: POLLER, ip: '198.51.100.200', port: 4444 }, NOW);
    const next = { implant: NOW + 7_000, poller: NOW + 3_000, orphan: NOW + 11_000 };
    let beaconSamples = 0;
    let drafts = 0;

    for (let s = 0; s < 900; s++) {
      const now = NOW + s * 1000;
      const plans: Plan[] = [];
      // an implant every ~20 s ±20 %, most check-ins seen only as unattributed traces
      if (now >= next.implant) {
        const own = r() < 0.2;
        plans.push({ key: own ? IMPLANT : UNATTRIBUTED, ip: '198.51.100.66', port: 8443, attribution: own ? 'socket' : 'none' });
        next.implant = now + Math.round(20_000 * (0.8 + 0.4 * r()) / 1000) * 1000;
      }
      // an internal poller every 15 s, allowed from sample 500 on
      if (now >= next.poller) {
        plans.push({ key: POLLER, ip: '10.0.0.5', port: 443, attribution: 'inferred' });
        next.poller = now + 15_000;
      }
      // a destination nobody owns, every 25 s
      if (now >= next.orphan) {
        plans.push({ key: UNATTRIBUTED, ip: '203.0.113.77', port: 4444, attribution: 'none' });
        next.orphan = now + 25_000;
      }
      // ordinary traffic, mostly to known endpoints, a few new ones
      for (let k = 0; k < 3; k++) if (r() < 0.7) plans.push({ key: APP, ip: `203.0.113.${Math.floor(r() * 30)}`, port: 443 });
      // a DNS burst between 200 and 320 s, to an off-resolver server
      if (s >= 200 && s < 320) for (let k = 0; k < 3; k++) plans.push({ key: RESOLVER_USER, ip: '198.51.100.53', port: 53, transport: 'udp' });
      // a scan between 300 and 330 s
      if (s >= 300 && s < 330) for (let k = 0; k < 4; k++) plans.push({ key: SCANNER, ip: `192.168.1.${(s * 4 + k) % 250}`, port: 22, state: 'SYN_SENT' });

      const started: ConnectionEvent[] = plans.map((p) => {
        const row = rowOf(p, now);
        return { ts: now, processKey: p.key, row, attribution: p.attribution ?? 'socket' };
      });
      // the window as HistoryStore fills it (journaled, so that a rollback can be tried)
      const mark = window.beginJournal();
      for (const e of started) window.add(e.processKey!, e.row.destination.ip, e.row.destination.port, e.row.network.transport, e.ts, e.attribution, e.row);
      window.advance(now);
      if (s === 400) {
        // a rolled-back sample: its starts go again, the caches must notice
        window.rollbackTo(mark);
        continue;
      }
      window.endJournal();
      if (s === 500) {
        allow.push({ process: POLLER, destination: '10.0.0.5', port: null, transport: null, source: 'cli' });
        memory.reset(memory.learningTimeMs(), allow);
        for (let d = 0; d < 25; d++) learn(APP, `203.0.113.${d}:443/tcp`, '203.0.113.0/24', '443/tcp');
        for (const k of ['/usr/sbin/sshd', '/usr/sbin/cron', '/usr/sbin/chronyd', '/usr/bin/apt']) learn(k, '151.101.2.132:80/tcp', '151.101.2.0/24', '80/tcp');
        learn(RESOLVER_USER, '9.9.9.9:53/udp', '9.9.9.0/24', '53/udp');
      }
      if (s === 650) learn(IMPLANT, '198.51.100.66:8443/tcp', '198.51.100.0/24', '8443/tcp'); // now a known endpoint

      const rows = [longLived, ...started.filter((e) => e.attribution === 'socket').map((e) => e.row)];
      ages.set(longLived.socket.inode, s * 1000);
      const context = (history: HistoryView, baseline: BaselineView): DetectContext => ({
        now,
        rows,
        started: started.map((e) => (e.processKey === null ? { ...e, processKey: UNATTRIBUTED } : e)),
        history,
        baseline,
        host: {
          hostName: 'h',
          resolvers: ['9.9.9.9'],
          internalNetworks: ['10.0.0.0/8', '192.168.0.0/16'],
          tcpCounterDelta: null,
          processCpu: new Map(),
        },
        keyOf: (row) => (row.process.pid === null ? null : row.process.executable),
        ageOf: (row) => ages.get(row.socket.inode) ?? null,
      });
      const incremental = runDetectors(context(window, versioned), detectors);
      const full = runDetectors(context(plainHistory, plain), detectors);
      expect(incremental.errors).toEqual([]);
      expect(full.errors).toEqual([]);
      expect(incremental.drafts, `sample ${s}`).toEqual(full.drafts);
      drafts += full.drafts.length;
      if (full.drafts.some((d) => d.detector === 'beacon' && d.processKey === IMPLANT)) beaconSamples++;
    }
    // The workload does exercise the detectors: the implant's finding is refreshed sample after sample until it
    // is learned, and the other detectors report too.
    expect(beaconSamples).toBeGreaterThan(200);
    expect(drafts).toBeGreaterThan(beaconSamples + 100);
    // …and the caches do their work: far fewer baseline questions than the full pass asks.
    expect(versioned.questions).toBeLessThan(plain.questions / 3);
  });
});

describe('QuietPairs', () => {
  const pair = (version: number): HistoryPair => ({ processKey: 'k', ip: '198.51.100.1', port: 443, transport: 'tcp', version });
  const ctxWith = (history: HistoryView, baseline: BaselineView): DetectContext =>
    ({ now: NOW, rows: [], started: [], history, baseline, host: {} as DetectContext['host'], keyOf: () => null }) as DetectContext;

  it('forgets a quiet pair when it, its companion, the baseline or the inputs change', () => {
    const window = new HistoryWindow(60_000, 10);
    const memory = new BaselineMemory();
    const ctx = ctxWith(window, memory);
    const params = { a: 1 };
    const p = pair(1);
    const c = pair(7);
    let quiet = QuietPairs.for('test', ctx, [params])!;
    quiet.add(p, c);
    expect(quiet.has(p, c)).toBe(true);
    expect(quiet.has({ ...p, version: 2 }, c)).toBe(false); // another object: never known
    expect(quiet.has(p, { ...c, version: 8 })).toBe(false);
    expect(quiet.has(p, null)).toBe(false);
    // same inputs: the memory is kept
    expect(QuietPairs.for('test', ctx, [params])!.has(p, c)).toBe(true);
    // other parameters, another detector, a changed baseline: judged afresh
    expect(QuietPairs.for('test', ctx, [{ a: 1 }])!.has(p, c)).toBe(false);
    quiet = QuietPairs.for('test', ctx, [params])!;
    quiet.add(p, c);
    expect(QuietPairs.for('other', ctx, [params])!.has(p, c)).toBe(false);
    memory.addProcess('k', 1, 0);
    expect(QuietPairs.for('test', ctx, [params])!.has(p, c)).toBe(false);
    // a pair with a finding is removed
    quiet = QuietPairs.for('test', ctx, [params])!;
    quiet.add(p);
    quiet.delete(p);
    expect(quiet.has(p)).toBe(false);
  });

  it('is off for views without versions', () => {
    const ctx = ctxWith(new Unversioned(new HistoryWindow(60_000, 10)), new Counting(new BaselineMemory(), false));
    expect(QuietPairs.for('test', ctx, [])).toBeNull();
    const window = new HistoryWindow(60_000, 10);
    const versionless: HistoryPair = { processKey: 'k', ip: '198.51.100.1', port: 443, transport: 'tcp' };
    const quiet = QuietPairs.for('test', ctxWith(window, new BaselineMemory()), [])!;
    quiet.add(versionless);
    expect(quiet.has(versionless)).toBe(false);
  });
});
