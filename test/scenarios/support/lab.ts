// A private test network per test file, made of two network namespaces joined by a veth pair:
//
//   sh-ep-<id>  "the endpoint": eth0 192.0.2.10/24, default route via 192.0.2.1, an nftables output chain that
//               makes conntrack track its flows (like any host with a stateful firewall), resolv.conf → 192.0.2.53
//               (/etc/netns/sh-ep-<id>/resolv.conf, bind-mounted by `ip netns exec`). The agent and the client
//               workloads run here.
//   sh-net-<id> "the network": eth0 192.0.2.1/24 plus the LAN hosts 192.0.2.20 (no listeners: refuses) and
//               192.0.2.53 (resolver); on lo the "internet" hosts 198.51.100.22, 198.51.100.66, 203.0.113.10,
//               203.0.113.53, 203.0.113.77 and the black holes 192.0.2.100–150, which answer ARP but whose
//               packets an nftables input rule drops, so connects to them stay in SYN_SENT until they time out.
//               Every server runs here.
//
// Only TEST-NET addresses are used, and nothing is routed out of the two namespaces (the network namespace has
// no other interface and no forwarding). Everything created is recorded and removed by destroy(): processes by
// pid, both namespaces, the /etc/netns directory and the temp dir.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { tempDir, type TempDir } from '../../support/tmp.js';

export const PROGRAMS_DIR = fileURLToPath(new URL('./programs/', import.meta.url));

export const ADDR = {
  endpoint: '192.0.2.10',
  gateway: '192.0.2.1',
  refusing: '192.0.2.20',
  resolver: '192.0.2.53',
  api: '203.0.113.10',
  ssh: '198.51.100.22',
  c2: '198.51.100.66',
  attackerNs: '203.0.113.53',
  pool: '203.0.113.77',
  blackHoleFirst: 100,
  blackHoleLast: 150,
} as const;

const INTERNET_HOSTS = [ADDR.ssh, ADDR.c2, ADDR.api, ADDR.attackerNs, ADDR.pool];

/** Every address this lab may hand out: a guard against a typo sending traffic anywhere else. */
function isTestNet(ip: string): boolean {
  return /^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d{1,3}$/.test(ip);
}

export interface Started {
  name: string;
  pid: number;
  /** The script path under the lab's temp dir (what the process key and command line show). */
  script: string;
  ready: Record<string, unknown>;
  child: ChildProcess;
  stderr(): string;
  log: string;
}

export class Lab {
  readonly id = randomBytes(3).toString('hex');
  readonly ep = `sh-ep-${this.id}`;
  readonly net = `sh-net-${this.id}`;
  readonly dir: string;
  private readonly tmp: TempDir;
  readonly binDir: string;
  private readonly children = new Set<ChildProcess>();
  private created = { ep: false, net: false, etc: false, etcParent: false };

  constructor(readonly name: string) {
    this.tmp = tempDir(`sockhunt-scenario-${name}-`);
    this.dir = this.tmp.dir;
    this.binDir = join(this.dir, 'bin');
    cpSync(PROGRAMS_DIR, this.binDir, { recursive: true });
    mkdirSync(join(this.dir, 'log'));
  }

  private run(cmd: string, args: string[], input?: string): string {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 15_000 });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr || e.message}`);
    }
  }

  private nft(ns: string, ruleset: string): void {
    this.run('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], ruleset);
  }

  /** Builds the two namespaces and their addresses, routes and firewall rules. */
  setUp(): void {
    if (process.getuid?.() !== 0) throw new Error('scenario tests create network namespaces: run them as root');
    this.run('ip', ['netns', 'add', this.ep]);
    this.created.ep = true;
    this.run('ip', ['netns', 'add', this.net]);
    this.created.net = true;
    // The veth pair is created directly inside the two namespaces: no name in the root namespace to collide on.
    this.run('ip', ['link', 'add', 'eth0', 'netns', this.ep, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.net]);

    this.run('ip', ['-n', this.ep, '-batch', '-'], [
      'link set lo up',
      `addr add ${ADDR.endpoint}/24 dev eth0`,
      'link set eth0 up',
      `route add default via ${ADDR.gateway}`,
    ].join('\n') + '\n');

    const netCmds = ['link set lo up', `addr add ${ADDR.gateway}/24 dev eth0`, `addr add ${ADDR.refusing}/32 dev eth0`,
      `addr add ${ADDR.resolver}/32 dev eth0`, 'link set eth0 up'];
    for (const ip of INTERNET_HOSTS) netCmds.push(`addr add ${ip}/32 dev lo`);
    for (let i = ADDR.blackHoleFirst; i <= ADDR.blackHoleLast; i++) netCmds.push(`addr add 192.0.2.${i}/32 dev lo`);
    for (const c of netCmds) {
      const ip = /addr add ([\d.]+)\//.exec(c)?.[1];
      if (ip && !isTestNet(ip)) throw new Error(`refusing to configure non-TEST-NET address ${ip}`);
    }
    this.run('ip', ['-n', this.net, '-batch', '-'], netCmds.join('\n') + '\n');

    this.nft(this.net, `table inet scenario_blackhole {
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr 192.0.2.${ADDR.blackHoleFirst}-192.0.2.${ADDR.blackHoleLast} drop
  }
}
`);
    // A stateful firewall on the endpoint: with a ct expression loaded, conntrack tracks every flow, and the agent
    // can read /proc/net/nf_conntrack of this namespace.
    this.nft(this.ep, `table inet scenario_fw {
  chain output {
    type filter hook output priority 0; policy accept;
    ct state new accept
  }
}
`);
    this.created.etcParent = !existsSync('/etc/netns');
    mkdirSync(`/etc/netns/${this.ep}`, { recursive: true });
    this.created.etc = true;
    writeFileSync(`/etc/netns/${this.ep}/resolv.conf`, `# sockhunt scenario ${this.name}\nnameserver ${ADDR.resolver}\n`);
  }

  /** The program's copy under the lab's temp dir. */
  script(program: string): string {
    return join(this.binDir, program);
  }

  logPath(name: string): string {
    return join(this.dir, 'log', `${name}.ndjson`);
  }

  readLog(name: string): Array<Record<string, unknown>> {
    const path = this.logPath(name);
    if (!existsSync(path)) return [];
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /**
   * Starts `node <lab>/bin/<program> args…` in a namespace (`ip netns exec` execs in place, so the child's pid is
   * the program's) and waits for its ready line.
   */
  async start(ns: 'ep' | 'net', name: string, program: string, args: string[], timeoutMs = 10_000): Promise<Started> {
    const script = this.script(program);
    const log = this.logPath(name);
    const child = spawn('ip', ['netns', 'exec', ns === 'ep' ? this.ep : this.net, process.execPath, script, ...args, '--log', log], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 20_000) stderr += d.toString();
    });
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} not ready after ${timeoutMs} ms: ${stderr}`)), timeoutMs);
      const rl = createInterface({ input: child.stdout! });
      rl.once('line', (l) => {
        clearTimeout(timer);
        resolve(l);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (${code ?? signal}) before it was ready: ${stderr}`));
      });
    });
    const ready = JSON.parse(line) as Record<string, unknown>;
    if (ready.pid !== child.pid) throw new Error(`${name}: pid ${String(ready.pid)} is not the spawned ${child.pid}`);
    return { name, pid: child.pid!, script, ready, child, stderr: () => stderr, log };
  }

  /** Stops one started process by its pid. */
  async stop(p: { child: ChildProcess }): Promise<void> {
    const child = p.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  }

  /** Runs a command in the endpoint namespace to completion (the agent), bounded in time. */
  exec(
    args: string[],
    timeoutMs: number,
    onStdoutLine?: (line: string) => void,
  ): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; ms: number }> {
    const t0 = Date.now();
    const child = spawn('ip', ['netns', 'exec', this.ep, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.add(child);
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout!.on('data', (d: Buffer) => {
      const text = d.toString();
      stdout += text;
      if (!onStdoutLine) return;
      partial += text;
      let nl;
      while ((nl = partial.indexOf('\n')) >= 0) {
        onStdoutLine(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        this.children.delete(child);
        resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
      });
    });
  }

  /** Removes everything setUp and start created; safe to call after a partial setUp. */
  async destroy(): Promise<void> {
    await Promise.all([...this.children].map((child) => this.stop({ child })));
    const errors: string[] = [];
    const attempt = (f: () => void) => {
      try {
        f();
      } catch (err) {
        errors.push((err as Error).message);
      }
    };
    if (this.created.ep) attempt(() => this.run('ip', ['netns', 'del', this.ep]));
    if (this.created.net) attempt(() => this.run('ip', ['netns', 'del', this.net]));
    if (this.created.etc) attempt(() => rmSync(`/etc/netns/${this.ep}`, { recursive: true, force: true }));
    if (this.created.etcParent) {
      try {
        rmdirSync('/etc/netns'); // only when empty: another file's lab may still use it
      } catch {
        // not empty, or already gone
      }
    }
    if (process.env.SOCKHUNT_SCENARIO_KEEP) process.stderr.write(`scenario ${this.name}: kept ${this.dir}\n`);
    else attempt(() => this.tmp.remove());
    if (errors.length) throw new Error(`cleanup of ${this.name}: ${errors.join('; ')}`);
  }
}
