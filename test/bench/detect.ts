// Benchmark (not a test): the hunt loop's cost per sample, the size of 24 h of history, and memory over a run.
//   npm run bench:detect
// 1. One 2,000-socket sample through AgentLoop in hunt mode (tracker, detectors, findings, history, one
//    transaction), 5% of connections new each sample, on a learned baseline: median ms over 300 samples. The
//    learning samples before it are timed too (learn line).
// 2. 24 h of history at 1 Hz on a busy host (25 new connections/s): database size under the retention setting.
// 3. Memory over 3,600 samples (60 minutes of sample time at 1 Hz) with churn: RSS and heap every 10 minutes.
// Sockets come from a generated table (the collector is measured by bench:collect); time is simulated.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Collector, Connection } from '../../collectors/types.js';
import { openAgentStore } from '../../store/agent/index.js';
import { AgentLoop } from '../../agent/loop.js';
import { parseConfig } from '../../agent/config.js';
import { configureDetectors } from '../../agent/detect/index.js';
import type { ConnectionEvent } from '../../agent/detect/types.js';

const ROWS = 2_000;
let inode = 1;
let sport = 20_000;

function row(i: number): Connection {
  const p = i % 60;
  const dst = i % 400;
  const listen = i % 25 === 0;
  return {
    '@timestamp': new Date().toISOString(),
    host: { name: 'bench' },
    process: { pid: 1000 + p, name: `app${p}`, executable: p % 3 === 0 ? '/usr/bin/python3.11' : `/usr/bin/app${p}`, command_line: p % 3 === 0 ? `python3 /opt/svc/w${p}.py` : `/usr/bin/app${p}`, parent: { pid: 1, name: 'systemd' } },
    user: { name: 'svc', id: '998' },
    source: { ip: '192.0.2.2', port: listen ? 8000 + p : (sport = sport >= 60_000 ? 20_000 : sport + 1) },
    destination: { ip: listen ? '0.0.0.0' : `198.51.${Math.floor(dst / 200)}.${dst % 200}`, port: listen ? 0 : [443, 80, 8443, 5432][dst % 4]! },
    network: { transport: 'tcp', type: 'ipv4', ...(listen ? {} : { direction: 'egress' as const }) },
    socket: { state: listen ? 'LISTEN' : 'ESTABLISHED', inode: inode++, family: 'inet', owner_pids: [1000 + p] },
  };
}

class TableCollector implements Collector {
  readonly spec = { id: 'bench-table', description: 'generated table', platforms: [] as NodeJS.Platform[], limitations: [] };
  rows = Array.from({ length: ROWS }, (_, i) => row(i));
  churn(fraction: number): void {
    for (let k = 0; k < ROWS * fraction; k++) {
      const i = Math.floor(Math.random() * ROWS);
      if (this.rows[i]!.socket.state !== 'LISTEN') this.rows[i] = row(i);
    }
  }
  async sample(): Promise<Connection[]> {
    return this.rows;
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MB`;

function tempDb(name: string): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), `sockhunt-bench-${name}-`)), 'agent.db');
}

const p95 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)]!;
const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

async function perSample(): Promise<string[]> {
  const dbPath = tempDb('sample');
  const store = openAgentStore(dbPath, { quickCheck: false });
  const config = parseConfig({ conntrack: false, netns: 'self' });
  const collector = new TableCollector();
  const host = { name: 'bench', id: store.db.agentId() };
  // Learning: 30 warm-up samples (the first writes every destination), then 300 timed ones; the repeats are added
  // up in memory and written every 30 s of sample time, which the mean includes.
  const learn = new AgentLoop({ collector, store, config, mode: 'learn', host, detectors: [] });
  let now = Date.now() - 3_600_000;
  const learnTimes: number[] = [];
  for (let i = 0; i < 330; i++) {
    collector.churn(0.05);
    const t0 = performance.now();
    await learn.sample((now += 1000));
    if (i >= 30) learnTimes.push(performance.now() - t0);
  }
  store.baseline.flush();
  const hunt = new AgentLoop({ collector, store, config, mode: 'hunt', host, detectors: configureDetectors({}) });
  const times: number[] = [];
  let findings = 0;
  for (let i = 0; i < 330; i++) {
    collector.churn(0.05);
    const t0 = performance.now();
    const s = await hunt.sample((now += 1000));
    if (i >= 30) times.push(performance.now() - t0);
    findings += s.findings.length;
  }
  store.close();
  fs.rmSync(path.dirname(dbPath), { recursive: true, force: true });
  return [
    `| hunt sample, ${ROWS} sockets, 5% new (tracker + 7 detectors + history + findings) | ${median(times).toFixed(2)} ms median, p95 ${p95(times).toFixed(2)} ms | ≤ 5 ms median |`,
    `| learn sample, ${ROWS} sockets, 5% new (tracker + history + baseline) | ${median(learnTimes).toFixed(2)} ms median, p95 ${p95(learnTimes).toFixed(2)} ms, mean ${mean(learnTimes).toFixed(2)} ms | cheaper than hunt |`,
    `(${findings} finding writes over the run)`,
  ];
}

function history24h(): string {
  const dbPath = tempDb('history');
  const config = parseConfig({});
  const store = openAgentStore(dbPath, { quickCheck: false, history: { maxAgeMs: config.history.retention, maxRows: config.history.max_rows } });
  const perSecond = 25;
  const start = Date.now() - 86_400_000;
  const base = row(1);
  for (let s = 0; s < 86_400; s += 60) {
    const events: ConnectionEvent[] = [];
    for (let k = 0; k < perSecond * 60; k++) {
      const r = row(k);
      events.push({ ts: start + (s + k / perSecond) * 1000, processKey: r.process.executable, row: r, attribution: 'socket' });
    }
    store.history.recordStarts(events, start + s * 1000);
  }
  void base;
  const rows = store.history.count();
  store.db.sqlite.pragma('wal_checkpoint(TRUNCATE)');
  const size = fs.statSync(dbPath).size;
  store.close();
  fs.rmSync(path.dirname(dbPath), { recursive: true, force: true });
  return `| 24 h of history at ${perSecond} new connections/s (${(perSecond * 86_400).toLocaleString('en')} starts), default retention (24 h, ${config.history.max_rows.toLocaleString('en')} rows) | ${mb(size)} on disk, ${rows.toLocaleString('en')} rows kept | < 200 MB |`;
}

async function memory(): Promise<string> {
  const dbPath = tempDb('memory');
  const store = openAgentStore(dbPath, { quickCheck: false });
  const config = parseConfig({ conntrack: false, netns: 'self' });
  const collector = new TableCollector();
  const hunt = new AgentLoop({ collector, store, config, mode: 'hunt', host: { name: 'bench', id: store.db.agentId() }, detectors: configureDetectors({}) });
  let now = Date.now() - 3_600_000;
  const marks: string[] = [];
  // 60 minutes, the detection window's length: the first minutes are warm-up (V8 and the allocator grow to their
  // working size), then RSS must stay flat while the window fills.
  for (let i = 1; i <= 3600; i++) {
    collector.churn(0.05);
    await hunt.sample((now += 1000));
    if (i === 60 || i % 600 === 0) {
      global.gc?.();
      const m = process.memoryUsage();
      const w = store.history.view().stats();
      marks.push(
        `${i / 60} min: RSS ${mb(m.rss)}, heap ${mb(m.heapUsed)} of ${mb(m.heapTotal)} + ${mb(m.arrayBuffers)} typed arrays ` +
          `(window ${w.starts.toLocaleString('en')} starts in ${w.pairs.toLocaleString('en')} pairs, ` +
          `${hunt.tracker.endedCount.toLocaleString('en')} ended tuples)`,
      );
    }
  }
  store.close();
  fs.rmSync(path.dirname(dbPath), { recursive: true, force: true });
  return `| memory over 3,600 samples (60 min at 1 Hz) with 5% churn | ${marks.join('; ')} | flat |`;
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(`sockhunt bench:detect — ${new Date().toISOString().slice(0, 10)}, ${os.type()} ${os.release()}, ${cpu}, ${os.cpus().length} cores, node ${process.versions.node}\n`);
console.log('| what | measured | target |\n| --- | --- | --- |');
// Optional arguments pick parts (for profiling): sample, history, memory; default all.
const parts = new Set(process.argv.slice(2));
const want = (p: string): boolean => parts.size === 0 || parts.has(p);
let note = '';
if (want('sample')) {
  const [sampleLine, learnLine, n] = await perSample();
  console.log(sampleLine);
  console.log(learnLine);
  note = n!;
}
if (want('history')) console.log(history24h());
if (want('memory')) console.log(await memory());
if (note) console.log(`\n${note}`);
