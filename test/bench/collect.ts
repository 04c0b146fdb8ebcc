// Collector benchmark (not a test): what one sample of the socket table costs with sockhunt's Linux collector
// (netlink sock_diag and /proc/net) against systeminformation, node-netstat and a bare `ss -tunap`, at about 500,
// 2,000 and 20,000 sockets with 300 extra idle processes, plus the steady 1 Hz cost of sockhunt's collector.
//
//   npx tsx test/bench/collect.ts [--host]   (npm run bench:collect)     Linux only; root sees every owner
//
// As root it re-runs itself in a private network and pid namespace (`unshare --net --pid --fork --mount-proc`,
// loopback up): the tables and /proc then hold only the benchmark's own sockets and processes, so other work on
// the host (tests, builds, other benchmarks) cannot add sockets or new pids to the measurement, and when the
// benchmark ends the kernel kills anything left in that pid namespace. `--host` (or no root, or no unshare)
// measures in the host's namespaces instead; the output says which.
//
// Prints one markdown table on stdout (progress goes to stderr). Everything it starts is bounded and stopped by pid:
//   - 300 `sleep 600` processes (idle processes the collectors must walk past);
//   - load holders (test/bench/collect-load.mjs): N/2 loopback TCP connections to their own listeners, both ends
//     open, ≤ 10,000 sockets per holder, each started through bash to raise its fd limit;
//   - one measured process per tool and load level (test/bench/collect-worker.ts, bundled with esbuild into a
//     temporary directory and run with plain node, so its RSS and CPU are that tool's alone).
// Per load level: sockhunt netlink and proc (warm samples back to back, plus the first sample of 5 fresh
// processes), systeminformation, node-netstat and ss. Then the 1 Hz runs at 500 sockets (see STEADY_PLAN).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { build, stop as stopEsbuild } from 'esbuild';
import type { Job, Sample, SteadyPlan, Tool, WorkerResult } from './collect-worker.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ADDON = join(ROOT, 'build/Release/sockdiag.node');
const LOAD_SCRIPT = fileURLToPath(new URL('./collect-load.mjs', import.meta.url));
const WORKER_SOURCE = fileURLToPath(new URL('./collect-worker.ts', import.meta.url));

/** Per load level: measured samples, after `warmup` unmeasured ones (JIT tier-up, caches) beyond the cold one. */
const LEVELS = [
  { sockets: 500, samples: 30, warmup: 10 },
  { sockets: 2_000, samples: 30, warmup: 10 },
  { sockets: 20_000, samples: 10, warmup: 4 },
] as const;
/** Fresh processes whose first sample makes the "cold" row (the burst process's first sample is one of them). */
const COLD_PROCESSES = 5;
const IDLE_PROCESSES = 300;
const SOCKETS_PER_HOLDER = 10_000;
/**
 * The 1 Hz runs (netlink and proc side by side, each in its own process): 45 s of warm-up first — at 1 Hz V8
 * needs ~40 s to tier the sampling code up to optimized code and to go through its first memory-reducing GC
 * (which drops and recompiles some of that code), and that is start-up cost, not steady cost — then 30 s
 * without churn, 5 s for the load to start churning, 30 s with churn. The first 30 s are reported too.
 */
const STEADY = { sockets: 500, churnPerSecond: 5 };
const STEADY_PLAN: SteadyPlan = { startupSeconds: 30, warmupSeconds: 45, windowSeconds: [30, 30], gapSeconds: 5 };
const WORKER_TIMEOUT_MS = 120_000;
const TARGETS = { steadyPct: 1.0, churnPct: 2.0, fullSampleMs: 150, rssMb: 80 };

// ---------------------------------------------------------------------------------------------------------------
// Processes we start: every one is recorded by pid and stopped by pid.

const live = new Set<ChildProcess>();
/** Temporary directories to remove on exit (the worker bundle). */
const tempDirs: string[] = [];
const startedPids: Array<{ pid: number; what: string }> = [];
const t0 = Date.now();

function log(message: string): void {
  process.stderr.write(`[${String(Math.round((Date.now() - t0) / 1000)).padStart(3)}s] ${message}\n`);
}

function track(child: ChildProcess, what: string): ChildProcess {
  if (child.pid === undefined) throw new Error(`could not start ${what}`);
  live.add(child);
  startedPids.push({ pid: child.pid, what });
  child.once('exit', () => live.delete(child));
  return child;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (exited(child)) return;
  const gone = once(child, 'exit');
  const timer = setTimeout(() => signal(child, 'SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/** Signals one child by pid; a child that is already gone is not an error. */
function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  if (!child.pid || exited(child)) return;
  try {
    process.kill(child.pid, sig);
  } catch {
    // exited in between
  }
}

/** On exit, also after a signal: SIGKILL by pid whatever is still running, remove the temporary files. */
function cleanUpNow(): void {
  for (const child of live) signal(child, 'SIGKILL');
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

function installCleanupHandlers(): void {
  process.on('exit', cleanUpNow);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130)); // runs cleanUpNow
}

// ---------------------------------------------------------------------------------------------------------------
// Idle processes and socket load.

async function startIdleProcesses(count: number): Promise<ChildProcess[]> {
  const list: ChildProcess[] = [];
  for (let i = 0; i < count; i++) list.push(track(spawn('sleep', ['600'], { stdio: 'ignore' }), 'idle sleep'));
  await Promise.all(list.map((c) => once(c, 'spawn')));
  return list;
}

async function stopIdleProcesses(list: ChildProcess[]): Promise<void> {
  for (const c of list) signal(c, 'SIGTERM');
  await Promise.all(list.map((c) => stopChild(c)));
}

interface Load {
  holders: ChildProcess[];
  held: number;
}

async function startLoad(sockets: number): Promise<Load> {
  const holders: ChildProcess[] = [];
  for (let left = sockets; left > 0; left -= SOCKETS_PER_HOLDER) {
    const n = Math.min(left, SOCKETS_PER_HOLDER);
    // bash raises the soft fd limit (to 65536 where allowed, else to the hard limit), then execs node: same pid.
    const script = 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"';
    const child = spawn('bash', ['-c', script, process.execPath, LOAD_SCRIPT, String(n)], { stdio: ['pipe', 'pipe', 'inherit'] });
    holders.push(track(child, `load holder (${n} sockets)`));
  }
  let held = 0;
  for (const holder of holders) {
    const first = createInterface({ input: holder.stdout! });
    let timer: NodeJS.Timeout | undefined;
    const line = await Promise.race([
      once(first, 'line').then(([l]) => String(l)),
      once(holder, 'exit').then(() => `exited ${holder.exitCode}`),
      new Promise<string>((resolve) => (timer = setTimeout(() => resolve('not ready after 60 s'), 60_000))),
    ]);
    clearTimeout(timer);
    first.close();
    const m = /^ready (\d+)/.exec(line);
    if (!m) throw new Error(`load holder ${holder.pid} failed: ${line}`);
    held += Number(m[1]);
  }
  return { holders, held };
}

function setChurn(load: Load, perSecond: number): void {
  load.holders[0]!.stdin!.write(`churn ${perSecond}\n`);
}

async function stopLoad(load: Load): Promise<void> {
  for (const h of load.holders) h.stdin!.end(); // the holder resets every socket (no TIME_WAIT) and exits
  await Promise.all(load.holders.map((h) => stopChild(h)));
}

// ---------------------------------------------------------------------------------------------------------------
// Measured processes.

let workerBundle = '';

async function bundleWorker(dir: string): Promise<void> {
  workerBundle = join(dir, 'collect-worker.mjs');
  await build({
    entryPoints: [WORKER_SOURCE],
    outfile: workerBundle,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    logLevel: 'warning',
  });
  await stopEsbuild(); // no esbuild service process left running beside the measurements
}

/** Runs one measured process; `onEvent` gets its progress lines (everything before the final JSON line). */
async function runWorker(job: Omit<Job, 'root'>, onEvent?: (line: string) => void): Promise<WorkerResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, SOCKHUNT_SOCKDIAG_ADDON: ADDON };
  delete env.NODE_OPTIONS; // nothing preloaded into the measured process
  const child = track(
    spawn(process.execPath, [workerBundle, JSON.stringify({ ...job, root: ROOT } satisfies Job)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    }),
    `worker ${job.tool} ${job.mode}`,
  );
  let out = '';
  let err = '';
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith('{')) out = line;
    else onEvent?.(line);
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const plan = job.steady;
  const timeoutMs = WORKER_TIMEOUT_MS + (plan ? (plan.warmupSeconds + plan.windowSeconds.reduce((a, b) => a + b + plan.gapSeconds, 0)) * 1000 : 0);
  const timer = setTimeout(() => signal(child, 'SIGKILL'), timeoutMs);
  const [code, killedBy] = (await once(child, 'close')) as [number | null, string | null];
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${job.tool} (${job.mode}) failed: ${killedBy ?? `exit ${code}`}: ${err.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(out) as WorkerResult;
}

// ---------------------------------------------------------------------------------------------------------------
// Statistics and the table.

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const cpuOf = (s: Sample) => s.selfCpuMs + s.childCpuMs;

interface Row {
  collector: string;
  measurement: string;
  /** The load level (sockets held), and the rows the tool returned. */
  sockets: number | null;
  rows: number | null;
  n: number;
  wallMs: number | null;
  cpuMs: number | null;
  /** Marks a CPU figure that is a mean including reaped children. */
  cpuIsMean?: boolean;
  pctCore?: number;
  rssMb: number | null;
  target?: string;
  met?: boolean;
}

const NAMES: Record<Tool, string> = {
  none: 'node, nothing sampled',
  'sockhunt-netlink': 'sockhunt (netlink)',
  'sockhunt-proc': "sockhunt (tables:'proc')",
  systeminformation: 'systeminformation.networkConnections()',
  'node-netstat': 'node-netstat (async)',
  ss: '`ss -tunap` (execFile, unparsed)',
};

function num(x: number | null | undefined): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  return x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0);
}

function renderTable(rows: Row[]): string {
  const head = ['collector', 'measurement', 'sockets (rows)', 'n', 'wall ms/sample', 'CPU ms/sample', '% of one core', 'RSS MB', 'target', 'met'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((h, i) => (i < 2 ? '---' : i < 8 ? '---:' : '---')).join('|')}|`];
  for (const r of rows) {
    const cells = [
      r.collector,
      r.measurement,
      r.sockets === null ? '–' : `${r.sockets.toLocaleString('en-US')} (${r.rows?.toLocaleString('en-US') ?? '–'})`,
      String(r.n),
      num(r.wallMs),
      r.cpuMs === null ? '–' : `${num(r.cpuMs)}${r.cpuIsMean ? ' †' : ''}`,
      r.pctCore === undefined ? '' : `${r.pctCore.toFixed(2)} %`,
      num(r.rssMb),
      r.target ?? '',
      r.met === undefined ? '' : r.met ? 'yes' : '**NO**',
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

const scansText = (samples: Sample[]) => {
  const s = samples.map((x) => x.fdScans ?? 0);
  return `${num(mean(s)).replace(/\.00$/, '')} fd-dir scans/sample`;
};

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (process.platform !== 'linux') throw new Error('the collector benchmark runs on Linux only');
  installCleanupHandlers();
  const load0 = loadavg()[0]!.toFixed(2);
  const isolated = process.env[ISOLATED_ENV] === '1';
  const dir = mkdtempSync(join(tmpdir(), 'sockhunt-bench-collect-'));
  tempDirs.push(dir);
  const rows: Row[] = [];
  const notes: string[] = [];
  let idle: ChildProcess[] = [];
  let load: Load | null = null;
  try {
    await bundleWorker(dir);

    // Which sockhunt paths can run: the netlink one needs the built addon.
    const sockhuntTools: Tool[] = [];
    if (!existsSync(ADDON)) {
      notes.push(`**The sock_diag addon is not built (${ADDON} missing): only the /proc path of sockhunt was measured.**`);
    } else {
      try {
        await runWorker({ tool: 'sockhunt-netlink', mode: 'cold', samples: 0, warmup: 0 });
        sockhuntTools.push('sockhunt-netlink');
      } catch (err) {
        notes.push(`**The sock_diag addon did not load (${(err as Error).message}): only the /proc path of sockhunt was measured.**`);
      }
    }
    sockhuntTools.push('sockhunt-proc');
    for (const n of notes) log(n);

    const baseline = await runWorker({ tool: 'none', mode: 'cold', samples: 0, warmup: 0 });
    rows.push({ collector: NAMES.none, measurement: 'RSS of the bare measuring process', sockets: null, rows: null, n: 1, wallMs: null, cpuMs: null, rssMb: baseline.peakRssMb });

    log(`starting ${IDLE_PROCESSES} idle processes`);
    idle = await startIdleProcesses(IDLE_PROCESSES);

    for (const level of LEVELS) {
      log(`load: ${level.sockets} sockets`);
      load = await startLoad(level.sockets);
      log(`  ${load.held} sockets held by ${load.holders.length} holder(s) (pids ${load.holders.map((h) => h.pid).join(', ')})`);
      const burst = { mode: 'burst', samples: level.samples, warmup: level.warmup } as const;
      const is20k = level.sockets >= 20_000;

      for (const tool of sockhuntTools) {
        log(`  ${NAMES[tool]}: ${level.samples} samples`);
        const r = await runWorker({ tool, ...burst });
        const colds: WorkerResult[] = [];
        for (let i = 1; i < COLD_PROCESSES; i++) colds.push(await runWorker({ tool, mode: 'cold', samples: 0, warmup: 0 }));
        const coldSamples = [r.cold!, ...colds.map((c) => c.cold!)];
        const wall = median(r.samples.map((s) => s.wallMs));
        rows.push({
          collector: NAMES[tool],
          measurement: `steady (cache warm), ${scansText(r.samples)}`,
          sockets: load.held,
          rows: r.samples.at(-1)!.rows,
          n: r.samples.length,
          wallMs: wall,
          cpuMs: median(r.samples.map(cpuOf)),
          rssMb: r.peakRssMb,
          ...(is20k ? { target: `≤ ${TARGETS.fullSampleMs} ms wall`, met: wall <= TARGETS.fullSampleMs } : {}),
        });
        rows.push({
          collector: NAMES[tool],
          measurement: `first sample (cold, fresh process), ${scansText(coldSamples)}`,
          sockets: load.held,
          rows: coldSamples.at(-1)!.rows,
          n: coldSamples.length,
          wallMs: median(coldSamples.map((s) => s.wallMs)),
          cpuMs: median(coldSamples.map(cpuOf)),
          rssMb: median(colds.map((c) => c.peakRssMb)),
        });
      }
      for (const tool of ['systeminformation', 'node-netstat', 'ss'] as const) {
        log(`  ${NAMES[tool]}: ${level.samples} samples`);
        const r = await runWorker({ tool, ...burst });
        rows.push({
          collector: NAMES[tool],
          measurement: 'steady',
          sockets: load.held,
          rows: r.samples.at(-1)!.rows,
          n: r.samples.length,
          wallMs: median(r.samples.map((s) => s.wallMs)),
          cpuMs: mean(r.samples.map(cpuOf)),
          cpuIsMean: true,
          rssMb: r.peakRssMb,
        });
      }
      await stopLoad(load);
      load = null;
    }

    // Steady 1 Hz: both sockhunt paths side by side; the load starts churning once both finished the first window.
    const { windowSeconds, warmupSeconds, startupSeconds, gapSeconds } = STEADY_PLAN;
    log(`steady 1 Hz at ${STEADY.sockets} sockets: ${warmupSeconds} s warm-up, ${windowSeconds[0]} s, then ${windowSeconds[1]} s with churn`);
    const steadyLoad = (load = await startLoad(STEADY.sockets));
    let windowsDone = 0;
    const onEvent = (line: string) => {
      if (line === 'window-end 0' && ++windowsDone === sockhuntTools.length) {
        log(`  churn on: ${STEADY.churnPerSecond} connections opened and ${STEADY.churnPerSecond} closed per second`);
        setChurn(steadyLoad, STEADY.churnPerSecond);
      }
    };
    const steadyResults = await Promise.all(
      sockhuntTools.map((tool) => runWorker({ tool, mode: 'steady', samples: 0, warmup: 0, steady: STEADY_PLAN }, onEvent)),
    );
    setChurn(steadyLoad, 0);
    await stopLoad(steadyLoad);
    load = null;
    for (const [w, churn] of [0, STEADY.churnPerSecond].entries()) {
      for (const r of steadyResults) {
        const win = r.windows![w]!;
        const startup = r.startup!;
        const pct = (win.cpuMs / win.elapsedMs) * 100;
        const limit = churn ? TARGETS.churnPct : TARGETS.steadyPct;
        rows.push({
          collector: NAMES[r.tool],
          measurement:
            `1 Hz for ${windowSeconds[w]} s after ${warmupSeconds + (w ? windowSeconds[0]! + gapSeconds : 0)} s, ` +
            `${churn ? `churn ${churn} opened + ${churn} closed connections/s` : 'no churn'}, ${scansText(win.samples)}` +
            (w === 0 ? ` (first ${startupSeconds} s after start: ${((startup.cpuMs / startup.elapsedMs) * 100).toFixed(2)} %)` : ''),
          sockets: steadyLoad.held,
          rows: win.samples.at(-1)!.rows,
          n: win.samples.length,
          wallMs: median(win.samples.map((s) => s.wallMs)),
          cpuMs: win.cpuMs / win.samples.length,
          pctCore: pct,
          rssMb: win.rssMb,
          target: `≤ ${limit.toFixed(1)} % core, RSS ≤ ${TARGETS.rssMb} MB`,
          met: pct <= limit && win.rssMb <= TARGETS.rssMb,
        });
      }
    }
    const agent = steadyResults[0]!;
    const agentRss = agent.windows!.at(-1)!.rssMb;
    notes.push(
      `Agent RSS after the steady run (${NAMES[agent.tool]}, ${warmupSeconds + windowSeconds[0]! + gapSeconds + windowSeconds[1]!} s at 1 Hz): ` +
        `${num(agentRss)} MB (peak ${num(agent.peakRssMb)} MB); target ≤ ${TARGETS.rssMb} MB: ${agentRss <= TARGETS.rssMb ? 'met' : '**missed**'}.`,
    );
  } finally {
    if (load) await stopLoad(load);
    await stopIdleProcesses(idle);
  }

  // Everything we started must be gone (checked by pid: a pid reused by someone else is not our child).
  const leftovers = startedPids.filter(({ pid }) => {
    const stat = (() => {
      try {
        return readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        return null;
      }
    })();
    return stat !== null && Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid;
  });
  log(`cleanup: ${startedPids.length - leftovers.length} of ${startedPids.length} started processes have exited`);
  if (leftovers.length) log(`LEFTOVER: ${leftovers.map((l) => `${l.pid} (${l.what})`).join(', ')}`);

  const cpu = cpus();
  const header =
    `**Collector benchmark** — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC · Linux ${release()} · ` +
    `${cpu[0]?.model.trim() ?? 'unknown CPU'} · ${cpu.length} cores · Node ${process.version} · ` +
    `load: loopback TCP pairs (both ends open) + ${IDLE_PROCESSES} idle processes · ` +
    (isolated
      ? 'private net + pid namespace (only the benchmark’s sockets and processes)'
      : '**host namespaces: other activity on the host is in the numbers**');
  const footer = [
    ...notes,
    `Targets: ≤ ${TARGETS.steadyPct.toFixed(1)} % of one core at 1 Hz / ${STEADY.sockets} sockets steady, ≤ ${TARGETS.churnPct.toFixed(1)} % with churn, ` +
      `≤ ${TARGETS.fullSampleMs} ms for a full 20k-socket sample (warm), agent RSS ≤ ${TARGETS.rssMb} MB.`,
    'Wall and CPU: median per sample over n samples (cold rows: the first sample of n fresh processes). ' +
      'CPU = user + system of the measuring process (all its threads: JIT and GC helpers included). † = mean per sample including the CPU of the ' +
      'processes the tool spawned (sh, netstat, grep, ss: cutime + cstime after they are reaped, which the kernel shows in ' +
      '10 ms ticks, so a per-sample median would be meaningless). 1 Hz rows: all CPU of the process over the window ' +
      '(samples, timers, GC, JIT) / samples, and as % of one core; the netlink and proc processes ran side by side.',
    'RSS: peak RSS of a Node process that ran only that tool (the spawned tools’ own memory is not included); ' +
      '1 Hz rows: RSS at the end of the run. sockets (rows): rows the tool returned (systeminformation’s grep drops unconnected UDP).',
    `Host load average (1 min) at start / end: ${load0} / ${loadavg()[0]!.toFixed(2)} — other work on this machine shares its ` +
      `${cpus().length} cores, so wall times can exceed CPU times.`,
    `Run: \`npm run bench:collect${process.argv.includes('--host') ? ' -- --host' : ''}\` (${Math.round((Date.now() - t0) / 1000)} s).`,
  ];
  process.stdout.write(`${header}\n\n${renderTable(rows)}\n\n${footer.map((l) => `${l}\n`).join('\n')}`);
}

const ISOLATED_ENV = 'SOCKHUNT_BENCH_ISOLATED';

/**
 * Runs this script again inside a private network + pid namespace and returns its exit code, or null when that
 * is not possible (not root, --host given, unshare missing or refused) and the benchmark runs here instead.
 */
async function runIsolated(): Promise<number | null> {
  if (process.env[ISOLATED_ENV] || process.argv.includes('--host') || process.getuid?.() !== 0) return null;
  const probe = spawnSync('unshare', ['--net', '--pid', '--fork', '--mount-proc', '--', 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'ignore' });
  if (probe.status !== 0) return null;
  const script = fileURLToPath(import.meta.url);
  const child = spawn(
    'unshare',
    ['--net', '--pid', '--fork', '--mount-proc', '--', 'bash', '-c', 'ip link set lo up && exec "$0" "$@"',
      process.execPath, ...process.execArgv, script, ...process.argv.slice(2)],
    { stdio: 'inherit', env: { ...process.env, [ISOLATED_ENV]: '1' } },
  );
  // unshare's parent ignores SIGINT/SIGTERM while it waits: pass them to the process it forked (pid 1 in the
  // namespace, whose exit makes the kernel kill everything left in there).
  const forward = (sig: NodeJS.Signals) => {
    let inner: number[] = [];
    try {
      inner = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      // unshare already gone
    }
    for (const pid of inner) {
      try {
        process.kill(pid, sig);
      } catch {
        // exited in between
      }
    }
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const [code] = (await once(child, 'exit')) as [number | null];
  return code ?? 1;
}

const isolatedExit = await runIsolated();
if (isolatedExit !== null) process.exitCode = isolatedExit;
else await main();
