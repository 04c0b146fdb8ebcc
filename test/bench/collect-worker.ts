// One measured process for test/bench/collect.ts (not a test). It runs exactly one tool, so its RSS is the RSS of
// a Node process that only ran that tool, prints one JSON line (WorkerResult) on stdout and exits.
//
// collect.ts bundles this file with esbuild and runs it with plain `node` (no tsx loader thread or esbuild
// service in the measured process). The job comes as JSON in argv[2].
//
// CPU per sample = process.cpuUsage() delta (all threads of this process: the main thread, GC and JIT helper
// threads; µs resolution) + the CPU of children reaped during the sample: the cutime+cstime delta of
// /proc/self/stat. The kernel accumulates that in ns but shows it in clock ticks (10 ms), so a per-sample child
// figure is only good to ±10 ms; collect.ts reports the mean over all samples for tools that spawn processes
// (error ≤ 10 ms / samples).
import { createRequire } from 'node:module';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createLinuxCollector, type LinuxCollector } from '../../collectors/linux.js';

export type Tool = 'none' | 'sockhunt-netlink' | 'sockhunt-proc' | 'systeminformation' | 'node-netstat' | 'ss';

/** The 1 Hz schedule of a steady job, in seconds from the first (cold) sample. */
export interface SteadyPlan {
  /** The start-up window reported separately: the first seconds, cold sample and JIT tier-up included. */
  startupSeconds: number;
  /** Sampling at 1 Hz before the first measured window (≥ startupSeconds). */
  warmupSeconds: number;
  /** Measured windows, one after the other; `window-end <i>` is printed on stdout as each ends. */
  windowSeconds: number[];
  /** 1 Hz sampling between windows (unmeasured), e.g. while the load changes. */
  gapSeconds: number;
}

export interface Job {
  tool: Tool;
  /** burst: cold sample, `warmup` samples, then `samples` back to back. cold: the first sample only. steady: 1 Hz. */
  mode: 'burst' | 'cold' | 'steady';
  samples: number;
  warmup: number;
  steady?: SteadyPlan;
  /** Project root, to load systeminformation and node-netstat from its node_modules. */
  root: string;
}

export interface Sample {
  wallMs: number;
  /** This process's CPU (all threads). */
  selfCpuMs: number;
  /** CPU of children reaped during the sample (10 ms ticks, see above). */
  childCpuMs: number;
  rows: number;
  /** OwnerIndex.lastScans: /proc/<pid>/fd directories read (sockhunt only). */
  fdScans?: number;
}

export interface Window {
  /** All CPU of the process (and reaped children) over the window: samples, timers, GC, JIT. */
  cpuMs: number;
  elapsedMs: number;
  samples: Sample[];
  /** RSS at the end of the window. */
  rssMb: number;
}

export interface WorkerResult {
  tool: Tool;
  mode: Job['mode'];
  tableSource?: 'netlink' | 'proc';
  cold?: Sample;
  /** burst mode. */
  samples: Sample[];
  /** steady mode. */
  startup?: Window;
  windows?: Window[];
  rssMb: number;
  peakRssMb: number;
}

const USER_HZ = 100; // clock ticks per second in /proc/<pid>/stat on every Linux architecture Node runs on
const SS_MAX_BUFFER = 512 * 1024 * 1024;

function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** cutime + cstime of this process: CPU of its reaped children (and their reaped children), in ms. */
function childCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state)
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / USER_HZ;
}

const rssMb = () => process.memoryUsage().rss / 2 ** 20;

interface Runner {
  /** One sample; resolves to the rows it returned (ss: bytes read, see below). */
  run: () => Promise<number> | number;
  fdScans?: () => number;
  tableSource?: 'netlink' | 'proc';
}

function execSs(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ss', ['-tunap'], { maxBuffer: SS_MAX_BUFFER }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

function makeRunner(job: Job): Runner {
  const fromProject = createRequire(`${job.root}/package.json`);
  switch (job.tool) {
    case 'none':
      return { run: () => 0 };
    case 'sockhunt-netlink':
    case 'sockhunt-proc': {
      const collector: LinuxCollector = createLinuxCollector({ tables: job.tool === 'sockhunt-netlink' ? 'netlink' : 'proc' });
      return {
        run: () => collector.sampleSync().length,
        // The owner index is private; its scan counter exists for benchmarks and tests.
        fdScans: () => collector['owners'].lastScans,
        tableSource: collector.tableSource,
      };
    }
    case 'systeminformation': {
      const si = fromProject('systeminformation') as typeof import('systeminformation');
      return { run: async () => (await si.networkConnections()).length };
    }
    case 'node-netstat': {
      type NodeNetstat = (
        options: { platform: string; sync?: boolean; done: (err?: Error | null) => void },
        handler: (item: unknown) => void,
      ) => unknown;
      const netstat = fromProject('node-netstat') as NodeNetstat;
      return {
        run: () =>
          new Promise<number>((resolve, reject) => {
            const items: unknown[] = [];
            netstat({ platform: 'linux', done: (err) => (err ? reject(err) : resolve(items.length)) }, (item) => {
              items.push(item);
            });
          }),
      };
    }
    case 'ss':
      // The spawn and the read only: the output is not parsed (its rows are counted once, untimed, at the end).
      return { run: async () => (await execSs()).length };
  }
}

async function measure(runner: Runner): Promise<Sample> {
  const k0 = childCpuMs();
  const c0 = selfCpuMs();
  const t0 = performance.now();
  const rows = await runner.run();
  const wallMs = performance.now() - t0;
  const self = selfCpuMs() - c0;
  const child = childCpuMs() - k0;
  const sample: Sample = { wallMs, selfCpuMs: self, childCpuMs: child, rows };
  if (runner.fdScans) sample.fdScans = runner.fdScans();
  return sample;
}

const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - performance.now())));

/** Samples at 1 Hz on a fixed schedule (sample i at start + i s); the cold sample is sample 0. */
async function steady(runner: Runner, plan: SteadyPlan, result: WorkerResult): Promise<void> {
  const start = performance.now();
  let next = 0;
  const cpuNow = () => selfCpuMs() + childCpuMs();
  const runFor = async (seconds: number, samples?: Sample[]): Promise<Window> => {
    const c0 = cpuNow();
    const t0 = performance.now();
    for (const end = next + seconds; next < end; next++) {
      await sleepUntil(start + next * 1000);
      const s = await measure(runner);
      if (next === 0) result.cold = s;
      samples?.push(s);
    }
    await sleepUntil(start + next * 1000);
    return { cpuMs: cpuNow() - c0, elapsedMs: performance.now() - t0, samples: samples ?? [], rssMb: rssMb() };
  };
  result.startup = await runFor(plan.startupSeconds);
  await runFor(plan.warmupSeconds - plan.startupSeconds);
  result.windows = [];
  for (const [i, seconds] of plan.windowSeconds.entries()) {
    if (i > 0) await runFor(plan.gapSeconds);
    result.windows.push(await runFor(seconds, []));
    process.stdout.write(`window-end ${i}\n`);
  }
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '') as Job;
  const runner = makeRunner(job);
  const result: WorkerResult = { tool: job.tool, mode: job.mode, samples: [], rssMb: 0, peakRssMb: 0 };
  if (runner.tableSource) result.tableSource = runner.tableSource;

  if (job.tool !== 'none') {
    if (job.mode === 'steady') {
      await steady(runner, job.steady!, result);
    } else {
      result.cold = await measure(runner);
      if (job.mode === 'burst') {
        for (let i = 0; i < job.warmup; i++) await runner.run();
        for (let i = 0; i < job.samples; i++) result.samples.push(await measure(runner));
      }
    }
  }
  result.rssMb = rssMb();
  result.peakRssMb = process.resourceUsage().maxRSS / 1024;
  if (job.tool === 'ss') {
    let rows = 0;
    for (const line of (await execSs()).split('\n')) if (line.startsWith('tcp') || line.startsWith('udp')) rows++;
    for (const s of result.samples) s.rows = rows;
    if (result.cold) result.cold.rows = rows;
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
