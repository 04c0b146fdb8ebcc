// The Linux collector against `ss -tunapHe` on a machine the test loads itself: its own listeners and clients
// (IPv4, IPv6, IPv4-mapped, connected and unconnected UDP), a process of another user, a process whose name has
// spaces and is longer than 15 characters, and a socket shared by a parent and its forked child.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSs, type SsRow } from '../support/ss.js';
import { startReady, stopAll } from '../support/processes.js';
import type { Connection } from '../../collectors/types.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const loadScript = join(root, 'test/support/socket-load.mjs');
const LONG_NAME = 'sockhunt load proc with spaces';

interface Ready {
  pid: number;
  ports: Record<string, number>;
}

let dir: string;
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

const key = (r: SsRow): string => `${r.transport}|${r.inode}|${r.state}|${r.localIp}|${r.localPort}|${r.remoteIp}|${r.remotePort}|${r.pids.join(',')}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sockhunt-ss-'));
  chmodSync(dir, 0o755);
  const link = join(dir, LONG_NAME);
  symlinkSync(process.execPath, link);
  mine = (await startReady<Ready>(link, [loadScript, JSON.stringify({ connections: 200 })])).ready;
  other = (await startReady<Ready>(process.execPath, [loadScript, '{}'], { uid: 65534, gid: 65534, cwd: '/' })).ready;
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
    process.kill(forked.child, 'SIGKILL');
  } catch {
    // already gone
  }
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

describe.each(['linux', 'linux-proc'])('collector %s against ss', (collector) => {
  it('has every stable ss row with the same inode, owners, state and ports', () => {
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

  it('names and attributes the test processes', () => {
    const rows = snapshot(collector);
    const own = rows.filter((r) => r.process.pid === mine.pid);
    expect(own.length).toBeGreaterThanOrEqual(200);
    expect(own[0]!.process.name).toBe(LONG_NAME);
    expect(own[0]!.user.name).toBe('root');
    expect(own[0]!.process.parent.pid).toBe(process.pid);

    const mapped = rows.find((r) => r.source.port === mine.ports.dual && r.socket.state === 'ESTABLISHED');
    expect(mapped).toMatchObject({ source: { ip: '127.0.0.1' }, socket: { family: 'inet6' }, network: { type: 'ipv4', direction: 'ingress' } });
    const v6 = rows.find((r) => r.destination.port === mine.ports.tcp6 && r.socket.state === 'ESTABLISHED');
    expect(v6).toMatchObject({ destination: { ip: '::1' }, network: { type: 'ipv6', direction: 'egress' }, process: { pid: mine.pid } });
    expect(rows.find((r) => r.source.port === mine.ports.udp4)).toMatchObject({ socket: { state: 'UNCONNECTED' }, network: { transport: 'udp' } });
    expect(rows.find((r) => r.source.port === mine.ports.udp6Client)).toMatchObject({ socket: { state: 'ESTABLISHED' }, destination: { ip: '::1', port: mine.ports.udp6 } });
    expect(rows.find((r) => r.source.port === mine.ports.tcp4 && r.socket.state === 'LISTEN')!.network.direction).toBeUndefined();

    const nobody = rows.filter((r) => r.process.pid === other.pid);
    expect(nobody.length).toBeGreaterThanOrEqual(9);
    expect(nobody[0]!.user).toEqual({ name: 'nobody', id: '65534' });

    const shared = rows.find((r) => r.source.port === forked.port && r.socket.state === 'LISTEN')!;
    expect([...shared.socket.owner_pids].sort((a, b) => a - b)).toEqual([forked.parent, forked.child].sort((a, b) => a - b));
    expect(shared.process.pid).toBe(forked.parent);
  });
});
