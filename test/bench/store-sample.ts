// Benchmark (not a test): the store's cost for one 2,000-socket sample.
//   npx tsx test/bench/store-sample.ts [samples=200]
// Per sample, in one transaction: baseline learning of every row, history (starts of the new connections and
// ends of the gone ones) and one findings upsert (findOpen, then update or insert). Also times the hunt-mode
// writes (history + findings, no learning) and the BaselineView lookups a detector pass makes for every row.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from '../../collectors/types.js';
import type { ConnectionEvent } from '../../agent/detect/types.js';
import { openAgentStore, type AgentStore } from '../../store/agent/index.js';

const ROWS = 2_000;
const SAMPLES = Number(process.argv[2] ?? 200);
const WARMUP = 20;
const CHURN = 0.05;

interface Slot {
  row: Connection;
  key: string;
  /** History row id of the connection's start (0 until recorded). */
  id: number;
}

let inodeSeq = 1;

function makeRow(i: number, kind: 'egress' | 'listen' | 'ingress', processIndex: number, distinct: boolean): Connection {
  const endpoint = distinct ? i : i % 400;
  // Every endpoint number maps to its own address: one in ten IPv6.
  const dstIp =
    kind === 'listen'
      ? '0.0.0.0'
      : endpoint % 10 === 0
        ? `2001:db8:${endpoint % 7}::${endpoint.toString(16)}`
        : `${20 + (Math.floor(endpoint / 65536) % 200)}.${Math.floor(endpoint / 256) % 256}.${endpoint % 256}.7`;
  const v6 = dstIp.includes(':');
  return {
    '@timestamp': new Date().toISOString(),
    host: { name: 'bench' },
    process: {
      pid: 1000 + processIndex,
      name: `app${processIndex}`,
      executable: processIndex % 3 === 0 ? '/usr/bin/python3.11' : `/usr/bin/app${processIndex}`,
      command_line: processIndex % 3 === 0 ? `python3 -u /opt/svc/worker${processIndex}.py` : `/usr/bin/app${processIndex} --serve`,
      parent: { pid: 1, name: 'systemd' },
    },
    user: { name: 'svc', id: '998' },
    source: { ip: v6 ? '2001:db8:ffff::2' : '192.0.2.2', port: 30_000 + (i % 30_000) },
    destination: { ip: dstIp, port: kind === 'listen' ? 0 : [443, 80, 53, 8443, 5432, 6379][endpoint % 6] ?? 443 },
    network: { transport: endpoint % 6 === 2 ? 'udp' : 'tcp', type: v6 ? 'ipv6' : 'ipv4', ...(kind === 'listen' ? {} : { direction: kind }) },
    socket: { state: kind === 'listen' ? 'LISTEN' : 'ESTABLISHED', inode: inodeSeq++, family: v6 ? 'inet6' : 'inet', owner_pids: [1000 + processIndex] },
  };
}

function makeSlot(i: number, distinct: boolean): Slot {
  const kind = i % 20 === 0 ? 'listen' : i % 20 === 1 ? 'ingress' : 'egress';
  const processIndex = i % 60;
  const key = processIndex % 3 === 0 ? `/usr/bin/python3.11 /opt/svc/worker${processIndex}.py` : `/usr/bin/app${processIndex}`;
  return { row: makeRow(i, kind, processIndex, distinct), key, id: 0 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function run(label: string, distinct: boolean): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sockhunt-bench-'));
  const store: AgentStore = openAgentStore(path.join(dir, 'agent.db'));
  try {
    const slots = Array.from({ length: ROWS }, (_, i) => makeSlot(i, distinct));
    let fresh = new Set(slots.map((s) => s.row.socket.inode));
    const full: number[] = [];
    const huntWrites: number[] = [];
    const lookups: number[] = [];
    let ts = Date.UTC(2026, 10, 28);
    let nextIndex = ROWS;
    const view = store.baseline.view();
    const historyView = store.history.view();

    for (let n = 0; n < WARMUP + SAMPLES; n++) {
      ts += 1_000;
      // Churn: replace CHURN of the sockets with new connections; the replaced ones ended.
      const ended: Array<{ id: number; ts: number }> = [];
      if (n > 0) {
        fresh = new Set();
        for (let k = 0; k < ROWS * CHURN; k++) {
          const at = (n * 97 + k * 31) % ROWS;
          const old = slots[at];
          if (!old || old.row.socket.state === 'LISTEN') continue;
          ended.push({ id: old.id, ts });
          const replacement = makeSlot(distinct ? nextIndex++ : at, distinct);
          slots[at] = replacement;
          fresh.add(replacement.row.socket.inode);
        }
      }
      const entries = slots.map((s) => ({ row: s.row, processKey: s.key, isNew: fresh.has(s.row.socket.inode) }));
      const startedSlots = slots.filter((s) => fresh.has(s.row.socket.inode) && s.row.socket.state !== 'LISTEN');
      const started: ConnectionEvent[] = startedSlots.map((s) => ({ ts, processKey: s.key, row: s.row, attribution: 'socket' }));
      const dedupeKey = `bench|${n % 5}`;

      const upsertFinding = (): void => {
        const open = store.findings.findOpen(dedupeKey, ts - 3_600_000);
        if (open) {
          store.findings.update(open.eventId, { count: open.count + 1, lastSeen: ts, doc: { ...open.doc, count: open.count + 1 } });
        } else {
          const huntId = store.findings.nextHuntId(new Date(ts));
          store.findings.insert({
            huntId,
            detector: 'first-seen',
            processKey: entries[0]?.processKey ?? null,
            destIp: '198.51.100.1',
            destPort: 443,
            transport: 'tcp',
            risk: 'Medium',
            confidence: 'Medium',
            score: 0.5,
            firstSeen: ts,
            lastSeen: ts,
            count: 1,
            dedupeKey,
            doc: { hunt: { id: huntId }, evidence: [{ note: 'bench' }] },
          });
        }
      };

      let t0 = performance.now();
      store.transaction(() => {
        store.baseline.learn({ ts, intervalMs: 1_000, entries });
        store.history.recordEnds(ended);
        const first = store.history.recordStarts(started, ts);
        startedSlots.forEach((s, i) => (s.id = first + i));
        upsertFinding();
      });
      const tFull = performance.now() - t0;

      t0 = performance.now();
      store.transaction(() => {
        store.history.recordStarts(started, ts);
        upsertFinding();
      });
      const tHunt = performance.now() - t0;

      t0 = performance.now();
      let hits = 0;
      for (const e of entries) {
        const r = e.row;
        const key = e.processKey;
        if (view.hasProcess(key)) hits++;
        if (view.hasEndpoint(key, r.destination.ip, r.destination.port, r.network.transport)) hits++;
        if (view.hasNetwork(key, r.destination.ip)) hits++;
        if (view.hasPort(key, r.destination.port, r.network.transport)) hits++;
        if (view.isAllowed(key, r.destination.ip, r.destination.port, r.network.transport)) hits++;
        if (view.connectionRate(key) !== null) hits++;
        if (historyView.starts(key, r.destination.ip, r.destination.port, r.network.transport).length > 0) hits++;
      }
      const tLookup = performance.now() - t0;
      if (hits < 0) throw new Error('unreachable');

      if (n >= WARMUP) {
        full.push(tFull);
        huntWrites.push(tHunt);
        lookups.push(tLookup);
      }
    }
    const fmt = (v: number): string => `${v.toFixed(2)} ms`;
    console.log(`${label}: ${ROWS} rows/sample, ${SAMPLES} samples (after ${WARMUP} warm-up), ${CHURN * 100}% new connections per sample`);
    console.log(`  learn + history + findings upsert, one transaction: median ${fmt(median(full))}`);
    console.log(`  hunt-mode writes (history + findings upsert):       median ${fmt(median(huntWrites))}`);
    console.log(`  BaselineView + HistoryView lookups for every row:    median ${fmt(median(lookups))}`);
    const summary = store.baseline.summary();
    console.log(`  baseline: ${summary.processes} processes, ${summary.destinations.endpoint} endpoints; history rows: ${store.history.count()}`);
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

run('realistic (400 destination addresses, 60 processes, listeners and accepted sockets mixed in)', false);
run('worst case (every egress socket a distinct endpoint)', true);
