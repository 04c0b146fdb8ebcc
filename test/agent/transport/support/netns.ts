// A private network for the transport tests: two namespaces joined by a veth pair.
//
//   sht-<id>-a  "the host": lo (127.0.0.1, where the test server listens), eth0 192.0.2.10/24, default route via
//               192.0.2.1. The agent, the test server and the client workload run here.
//   sht-<id>-n  "the internet": eth0 192.0.2.1/24; on lo 198.51.100.7 and 203.0.113.9, where the listener runs.
//
// Only TEST-NET addresses; nothing leaves the two namespaces. Every process started is tracked and killed by its
// pid in destroy(), which also deletes both namespaces.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const SUPPORT = fileURLToPath(new URL('./', import.meta.url));

export const NET = {
  host: '192.0.2.10',
  gateway: '192.0.2.1',
  remote: '198.51.100.7',
  remote2: '203.0.113.9',
} as const;

/** Whether this machine can run the namespace tests (root, `ip`, network namespaces). */
export function canUseNetns(): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  /** Lines of stdout so far (parsed JSON where it is JSON). */
  lines: Array<Record<string, unknown>>;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first stdout line (parsed) that matches, waiting up to timeoutMs. */
  waitLine(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  send(obj: unknown): void;
}

export class TransportLab {
  readonly id = randomBytes(3).toString('hex');
  readonly hostNs = `sht-${this.id}-a`;
  readonly netNs = `sht-${this.id}-n`;
  private readonly procs = new Set<Proc>();
  private made = { host: false, net: false };

  private ip(args: string[], input?: string): void {
    try {
      execFileSync('ip', args, { input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 15_000 });
    } catch (err) {
      const e = err as { stderr?: Buffer; message: string };
      throw new Error(`ip ${args.join(' ')}: ${e.stderr?.toString() || e.message}`);
    }
  }

  setUp(): void {
    this.ip(['netns', 'add', this.hostNs]);
    this.made.host = true;
    this.ip(['netns', 'add', this.netNs]);
    this.made.net = true;
    this.ip(['link', 'add', 'eth0', 'netns', this.hostNs, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.netNs]);
    this.ip(['-n', this.hostNs, '-batch', '-'], ['link set lo up', `addr add ${NET.host}/24 dev eth0`, 'link set eth0 up', `route add default via ${NET.gateway}`].join('\n') + '\n');
    this.ip(
      ['-n', this.netNs, '-batch', '-'],
      ['link set lo up', `addr add ${NET.gateway}/24 dev eth0`, 'link set eth0 up', `addr add ${NET.remote}/32 dev lo`, `addr add ${NET.remote2}/32 dev lo`].join('\n') + '\n',
    );
  }

  /** Starts `argv` inside a namespace (`ip netns exec` execs in place: the pid is the program's). */
  start(ns: 'host' | 'net', name: string, argv: string[], options: { env?: NodeJS.ProcessEnv; stdin?: boolean } = {}): Proc {
    const child = spawn('ip', ['netns', 'exec', ns === 'host' ? this.hostNs : this.netNs, ...argv], {
      cwd: ROOT,
      env: { ...process.env, ...options.env },
      stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
    });
    const lines: Array<Record<string, unknown>> = [];
    const waiters = new Set<() => void>();
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        parsed = { text: line };
      }
      lines.push(parsed);
      for (const w of waiters) w();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => {
        for (const w of waiters) w();
        resolve({ code, signal });
      }),
    );
    const proc: Proc = {
      name,
      child,
      pid: child.pid!,
      lines,
      stderr: () => stderr,
      exited,
      send: (obj) => child.stdin?.write(`${JSON.stringify(obj)}\n`),
      waitLine: (match, timeoutMs = 60_000) =>
        new Promise((resolve, reject) => {
          const check = (): void => {
            const found = lines.find(match);
            if (found) {
              done();
              resolve(found);
            } else if (child.exitCode !== null || child.signalCode !== null) {
              done();
              reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}) without the expected line; stderr: ${stderr.slice(-3000)}`));
            }
          };
          const timer = setTimeout(() => {
            done();
            reject(new Error(`${name}: no expected line within ${timeoutMs} ms; stderr: ${stderr.slice(-3000)}`));
          }, timeoutMs);
          const done = (): void => {
            clearTimeout(timer);
            waiters.delete(check);
          };
          waiters.add(check);
          check();
        }),
    };
    this.procs.add(proc);
    void exited.then(() => this.procs.delete(proc));
    return proc;
  }

  /** kill -9 by pid, and wait for the exit. */
  async kill(proc: Proc, signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (proc.child.exitCode === null && proc.child.signalCode === null) process.kill(proc.pid, signal);
    return Promise.race([
      proc.exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${proc.name} did not exit on ${signal} within ${timeoutMs} ms`)), timeoutMs)),
    ]);
  }

  async destroy(): Promise<void> {
    for (const p of [...this.procs]) {
      try {
        await this.kill(p);
      } catch {
        // reported by the test that started it
      }
    }
    const errors: string[] = [];
    for (const [made, ns] of [
      [this.made.host, this.hostNs],
      [this.made.net, this.netNs],
    ] as const) {
      if (!made) continue;
      try {
        this.ip(['netns', 'del', ns]);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    if (errors.length) throw new Error(errors.join('; '));
  }
}

/** Polls `check` until it returns a truthy value (returned), every `everyMs`, failing after `timeoutMs`. */
export async function until<T>(what: string, check: () => T | Promise<T>, timeoutMs = 60_000, everyMs = 200): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
