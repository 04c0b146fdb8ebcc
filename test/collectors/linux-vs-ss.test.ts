// The Linux collector against `ss -tunapHe` on a machine the test loads itself: its own listeners and clients
// (IPv4, IPv6, IPv4-mapped, connected and unconnected UDP), a process of another user, a process whose name has
// spaces and is longer than 15 characters, and a socket shared by a parent and its forked child.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSs, type SsRow } from '../support/ss.js';
import { startReady, stopAll } from '../support/processes.js';
import { NOBODY, readableBy, readableTempDir, type ReadableFiles } from '../support/other-user.js';
import type { Connection, Family, SocketState, Transport } from '../../collectors/types.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const LOAD_SCRIPT = 'test/support/socket-load.mjs';
const LONG_NAME = 'sockhunt load proc with spaces';

/** What test/support/socket-load.mjs prints when its sockets are open. */
interface Ready {
  pid: number;
  ports: Record<'tcp4' | 'tcp6' | 'dual' | 'udp4' | 'udp6' | 'udp4Client' | 'udp6Client' | 'tcp4Client' | 'tcp6Client' | 'dualClient', number>;
}

let dir: ReturnType<typeof readableTempDir> | undefined;
/** The load script where nobody can read it (this clone, or a copy); a reason string when nowhere. */
let load: ReadableFiles | string;
let mine: Ready;
let other: Ready;
let forked: { parent: number; child: number; port: number };

function snapshot(collector: string): Connection[] {
  const out = execFileSync(process.execPath, [join(root, 'bin/sockhunt.js'), 'snapshot', '--format', 'json', '--netns', 'self', '--collector', collector], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  return JSON.parse(out) as Connection[];
}

/** The row of one socket, by transport, family and both ends (a port alone can be another socket's, of the other transport). */
function socketRow(rows: Connection[], transport: Transport, family: Family, local: [string, number], remote: [string, number], state?: SocketState): Connection | undefined {
  return rows.find(
    (r) =>
      (state === undefined || r.socket.state === state) &&
      r.network.transport === transport &&
      r.socket.family === family &&
      r.source.ip === local[0] &&
      r.source.port === local[1] &&
      r.destination.ip === remote[0] &&
      r.destination.port === remote[1],
  );
}

const key = (r: SsRow): string => `${r.transport}|${r.inode}|${r.state}|${r.localIp}|${r.localPort}|${r.remoteIp}|${r.remotePort}|${r.pids.join(',')}`;

beforeAll(async () => {
  // The process of another user runs the load script as nobody: from a readable copy where this clone is out of its reach.
  load = readableBy(root, [LOAD_SCRIPT]);
  if (typeof load === 'string') {
    process.stderr.write(`linux-vs-ss.test.ts: skipped: ${load}\n`);
    return;
  }
  dir = readableTempDir('sockhunt-ss-');
  const link = join(dir.dir, LONG_NAME);
  symlinkSync(process.execPath, link);
  mine = (await startReady<Ready>(link, [join(root, LOAD_SCRIPT), JSON.stringify({ connections: 200 })])).ready;
  other = (await startReady<Ready>(process.execPath, [join(load.root, LOAD_SCRIPT), '{}'], { ...NOBODY, cwd: '/' })).ready;
  const py = `import socket,os,sys,json,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen()
pid=os.fork()
if pid==0:
    time.sleep(600); sys.exit(0)
print(json.dumps({"parent":os.getpid(),"child":pid,"port":s.getsockname()[1]}),flush=True)
sys.stdin.read(); os.kill(pid,9)`;
  forked = (await startReady<{ parent: number; child: number; port: number }>('python3', ['-c', py])).ready;
});

afterAll(async () => {
  try {
    if (forked) process.kill(forked.child, 'SIGKILL');
  } catch {
    // already gone
  }
  await stopAll();
  dir?.remove();
  if (typeof load !== 'string') load?.remove();
});

describe.each(['linux', 'linux-proc'])('collector %s against ss', (collector) => {
  it('has every stable ss row with the same inode, owners, state and ports', (ctx) => {
    if (typeof load === 'string') return ctx.skip(load);
    const before = runSs();
    const ours = snapshot(collector);
    const after = runSs();
    const afterKeys = new Set(after.map(key));
    const stable = before.filter((r) => r.inode !== 0 && afterKeys.has(key(r)));
    expect(stable.length).toBeGreaterThan(200);
    const byInode = new Map(ours.map((r) => [r.socket.inode, r]));
    const problems: string[] = [];
    for (const s of stable) {
      const r = byInode.get(s.inode);
      if (!r) {
        problems.push(`missing ${key(s)}`);
        continue;
      }
      const got = {
        transport: r.network.transport,
        state: r.socket.state,
        localIp: r.source.ip,
        localPort: r.source.port,
        remoteIp: r.destination.ip,
        remotePort: r.destination.port,
        pids: [...r.socket.owner_pids].sort((a, b) => a - b),
        uid: Number(r.user.id ?? -1),
      };
      const want = { transport: s.transport, state: s.state, localIp: s.localIp, localPort: s.localPort, remoteIp: s.remoteIp, remotePort: s.remotePort, pids: s.pids, uid: s.uid };
      if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`inode ${s.inode}: ours ${JSON.stringify(got)} ss ${JSON.stringify(want)}`);
      if (s.pids.length > 0 && r.process.pid !== Math.min(...s.pids) && r.socket.owner_pids[0] !== r.process.pid) {
        problems.push(`inode ${s.inode}: process.pid ${r.process.pid} is not the first owner`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('names and attributes the test processes', (ctx) => {
    if (typeof load === 'string') return ctx.skip(load);
    const rows = snapshot(collector);
    const own = rows.filter((r) => r.process.pid === mine.pid);
    expect(own.length).toBeGreaterThanOrEqual(200);
    expect(own[0]!.process.name).toBe(LONG_NAME);
    expect(own[0]!.user.name).toBe('root');
    expect(own[0]!.process.parent.pid).toBe(process.pid);

    const { ports } = mine;
    const mapped = socketRow(rows, 'tcp', 'inet6', ['127.0.0.1', ports.dual], ['127.0.0.1', ports.dualClient], 'ESTABLISHED');
    expect(mapped).toMatchObject({ source: { ip: '127.0.0.1' }, socket: { family: 'inet6' }, network: { type: 'ipv4', direction: 'ingress' } });
    const v6 = socketRow(rows, 'tcp', 'inet6', ['::1', ports.tcp6Client], ['::1', ports.tcp6], 'ESTABLISHED');
    expect(v6).toMatchObject({ destination: { ip: '::1' }, network: { type: 'ipv6', direction: 'egress' }, process: { pid: mine.pid } });
    expect(socketRow(rows, 'udp', 'inet', ['127.0.0.1', ports.udp4], ['0.0.0.0', 0])).toMatchObject({ socket: { state: 'UNCONNECTED' }, network: { transport: 'udp' } });
    expect(socketRow(rows, 'udp', 'inet6', ['::1', ports.udp6Client], ['::1', ports.udp6])).toMatchObject({ socket: { state: 'ESTABLISHED' }, destination: { ip: '::1', port: mine.ports.udp6 } });
    expect(socketRow(rows, 'tcp', 'inet', ['127.0.0.1', ports.tcp4], ['0.0.0.0', 0], 'LISTEN')!.network.direction).toBeUndefined();

    const nobody = rows.filter((r) => r.process.pid === other.pid);
    expect(nobody.length).toBeGreaterThanOrEqual(9);
    expect(nobody[0]!.user).toEqual({ name: 'nobody', id: '65534' });

    const shared = socketRow(rows, 'tcp', 'inet', ['127.0.0.1', forked.port], ['0.0.0.0', 0], 'LISTEN')!;
    expect([...shared.socket.owner_pids].sort((a, b) => a - b)).toEqual([forked.parent, forked.child].sort((a, b) => a - b));
    expect(shared.process.pid).toBe(forked.parent);
  });
});
