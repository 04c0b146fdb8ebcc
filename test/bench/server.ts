// Benchmark (not a test): the aggregation server under simulated agents from a separate process.
//   node --expose-gc --import tsx test/bench/server.ts     (npm run bench:server; plain `npx tsx` works too)
// 1. Idle fleet: 5,000 agents connected, heartbeating every 10 s, ws pings every 10 s; server RSS.
// 2. Peak ingest: 200 agents stream batches of 100 findings (2 in flight each, BENCH_WINDOW); findings acked per second
//    (an ack is sent only after the batch's commit), checked against the rows in the database.
// 3. Ack latency at half the peak rate: 200 agents pacing batches of 100; p50/p99/max.
// The server runs in this process (its database on a thread of its own, as `sockhunt server` runs it), the agents
// in a child (child_process, killed by pid). Loopback only; each phase is bounded to 60 s.
// BENCH_PHASES=peak,idle,latency (default all); BENCH_RATE: the paced rate when peak is skipped; BENCH_WINDOW: batches
// in flight per agent at peak (2); BENCH_VALIDATE_WORKERS: validation workers (default: the server's);
// BENCH_LOAD_PROF=DIR: CPU profile of the load generator.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import { buildServer, type SockhuntServer } from '../../server/app.js';
import { openSqliteServerStore } from '../../store/server/sqlite.js';
import type { ServerStore } from '../../store/server/contract.js';

const SECRET = 'bench-enroll-secret-0123456789';
const LOAD = fileURLToPath(new URL('./server-load.ts', import.meta.url));
const PHASE_LIMIT_MS = 60_000;

interface Running {
  app: SockhuntServer;
  store: ServerStore;
  dbPath: string;
  url: string;
  dir: string;
}

async function startServer(): Promise<Running> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sockhunt-bench-server-'));
  const dbPath = path.join(dir, 'server.db');
  const store = openSqliteServerStore(dbPath, { thread: true });
  const app = buildServer({ store, enrollSecret: SECRET, apiToken: 'bench-api-token-0123456789', pingIntervalMs: 10_000, ...(process.env.BENCH_VALIDATE_WORKERS ? { validateWorkers: Number(process.env.BENCH_VALIDATE_WORKERS) } : {}) });
  await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
  const { port } = app.server.address() as AddressInfo;
  return { app, store, dbPath, url: `ws://127.0.0.1:${port}/ws`, dir };
}

async function stopServer(r: Running): Promise<void> {
  await r.app.close();
  await r.store.close();
  fs.rmSync(r.dir, { recursive: true, force: true });
  // Let the previous phase's disk writes and garbage settle so that phases do not measure each other.
  execFileSync('sync');
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((resolve) => setTimeout(resolve, 3000));
}

type Report = Record<string, unknown> & { type: string };

/** Runs the load script in a child (with a raised fd limit), returns its result; kills it by pid when over time. */
function runLoad(args: Record<string, unknown>, onReport: (r: Report) => void = () => undefined): Promise<Report> {
  const child: ChildProcess = spawn(
    'bash',
    ['-c', 'ulimit -n 20000 && exec "$0" "$@"', process.execPath, ...(process.env.BENCH_LOAD_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_LOAD_PROF}`] : []), '--import', 'tsx', LOAD, JSON.stringify({ secret: SECRET, connectConcurrency: 100, ...args })],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  return new Promise<Report>((resolve, reject) => {
    let result: Report | null = null;
    const limit = setTimeout(() => {
      process.kill(child.pid!, 'SIGKILL');
      reject(new Error(`load child ${child.pid} ran over ${PHASE_LIMIT_MS} ms: killed`));
    }, PHASE_LIMIT_MS);
    child.on('message', (msg: Report) => {
      if (msg.type === 'log') process.stderr.write(`  load: ${String(msg.text)}\n`);
      if (msg.type === 'result' || msg.type === 'failed') result = msg;
      onReport(msg);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(limit);
      if (result?.type === 'result') resolve(result);
      else reject(new Error(`load child exited ${code ?? signal}: ${JSON.stringify(result)}`));
    });
  }).finally(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
  });
}

const mb = (n: number): string => `${Math.round(n / 1024 / 1024)} MB`;

async function peak(): Promise<{ rows: string[]; rate: number }> {
  const r = await startServer();
  try {
    let cpu0 = process.cpuUsage();
    const res = await runLoad({ mode: 'stream', url: r.url, agents: 200, batch: 100, window: Number(process.env.BENCH_WINDOW ?? 2), rate: 0, durationMs: 20_000 }, (m) => {
      if (m.type === 'connected') cpu0 = process.cpuUsage();
    });
    const cpu = process.cpuUsage(cpu0);
    const db = new Database(r.dbPath, { readonly: true });
    const stored = (db.prepare('SELECT count(*) AS n FROM findings').get() as { n: number }).n;
    db.close();
    const rate = res.findingsPerSec as number;
    return {
      rate,
      rows: [
        `| peak ingest, 200 agents × batches of 100 | **${rate.toLocaleString('en')} findings/s** acked after commit (${(res.acked as number).toLocaleString('en')} in ${(res.seconds as number).toFixed(1)} s; ${stored.toLocaleString('en')} rows in the database; errors ${res.errors}) | ≥ 20,000/s |`,
        `| ack latency at peak | p50 ${(res.p50 as number).toFixed(0)} ms, p99 ${(res.p99 as number).toFixed(0)} ms (${Number(process.env.BENCH_WINDOW ?? 2)} batches in flight per agent: mostly queueing) | — |`,
        `| CPU at peak | server ${((cpu.user + cpu.system) / stored).toFixed(0)} µs/finding (all threads, incl. 2 s warm-up), load generator ${((res.cpuMs as number) * 1000 / (res.acked as number)).toFixed(0)} µs/finding | — |`,
      ],
    };
  } finally {
    await stopServer(r);
  }
}

async function idleFleet(): Promise<string[]> {
  const r = await startServer();
  try {
    const before = process.memoryUsage().rss;
    let maxRss = before;
    let maxOnline = 0;
    const sampler = setInterval(() => {
      maxRss = Math.max(maxRss, process.memoryUsage().rss);
      maxOnline = Math.max(maxOnline, r.app.hub.size);
    }, 250);
    let connectedMs = 0;
    const res = await runLoad({ mode: 'idle', url: r.url, agents: 5000, heartbeatMs: 10_000, durationMs: 25_000 }, (m) => {
      if (m.type === 'connected') connectedMs = m.ms as number;
    });
    clearInterval(sampler);
    return [
      `| idle fleet: 5,000 agents, heartbeats and pings every 10 s for 25 s | **server RSS max ${mb(maxRss)}** (${mb(before)} before; up to ${maxOnline} online at once, ${res.open} still open at the end; all enrolled in ${(connectedMs / 1000).toFixed(1)} s) | < 1 GB |`,
    ];
  } finally {
    await stopServer(r);
  }
}

async function latency(rate: number): Promise<string[]> {
  const r = await startServer();
  try {
    const res = await runLoad({ mode: 'stream', url: r.url, agents: 200, batch: 100, window: 1000, rate, durationMs: 20_000 });
    return [
      `| ack latency at half the peak (${rate.toLocaleString('en')} findings/s paced over 200 agents) | **p99 ${(res.p99 as number).toFixed(0)} ms** (p50 ${(res.p50 as number).toFixed(0)} ms, max ${(res.max as number).toFixed(0)} ms, ${res.batches} batches; delivered ${(res.findingsPerSec as number).toLocaleString('en')}/s) | p99 ≤ 250 ms |`,
    ];
  } finally {
    await stopServer(r);
  }
}

const cpus = os.cpus();
const header = [
  `sockhunt server benchmark — ${new Date().toISOString()}`,
  `CPU: ${cpus[0]?.model ?? 'unknown'}, ${os.availableParallelism()} cores; RAM ${mb(os.totalmem())}; Node ${process.version}; ${os.platform()} ${os.release()}`,
  '',
  '| phase | measured | target |',
  '|---|---|---|',
];
// BENCH_PHASES=peak,idle,latency (default all); BENCH_RATE sets the paced rate when peak is skipped.
const phases = new Set((process.env.BENCH_PHASES ?? 'peak,idle,latency').split(','));
const rows: string[] = [];
let peakRate = Number(process.env.BENCH_RATE ?? 20_000);
// Idle first: its RSS is then the server's alone, not what the ingest phase left in the heap.
if (phases.has('idle')) rows.push(...(await idleFleet()));
if (phases.has('peak')) {
  const p = await peak();
  rows.push(...p.rows);
  peakRate = p.rate;
}
if (phases.has('latency')) rows.push(...(await latency(Math.round(peakRate / 2))));
process.stdout.write(`${[...header, ...rows].join('\n')}\n`);
