// Sockets in another network namespace (a container without a container runtime): a process started in a
// fresh namespace with `unshare -n`, placed in a cgroup named the way Docker names its scopes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readlinkSync, rmdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { startReady, stopAll } from '../support/processes.js';
import type { Connection } from '../../collectors/types.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const containerId = randomBytes(32).toString('hex');
let cgroupDir: string | null = null;
let inside: { pid: number; port: number };

function snapshot(...args: string[]): Connection[] {
  return JSON.parse(execFileSync(process.execPath, [join(root, 'bin/sockhunt.js'), 'snapshot', '--format', 'json', ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })) as Connection[];
}

beforeAll(async () => {
  const py = 'import socket,os,json,sys; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(json.dumps({"pid":os.getpid(),"port":s.getsockname()[1]}),flush=True); sys.stdin.read()';
  inside = (await startReady<{ pid: number; port: number }>('unshare', ['-n', 'sh', '-c', `ip link set lo up && exec python3 -c '${py}'`])).ready;
  // A cgroup v1 or v2 hierarchy we can write to as root (both exist on this kind of machine).
  for (const base of ['/sys/fs/cgroup/unified', '/sys/fs/cgroup/pids', '/sys/fs/cgroup']) {
    const dir = join(base, `docker-${containerId}.scope`);
    try {
      if (!existsSync(base)) continue;
      mkdirSync(dir);
      writeFileSync(join(dir, 'cgroup.procs'), String(inside.pid));
      cgroupDir = dir;
      break;
    } catch {
      try {
        rmdirSync(dir);
      } catch {
        // not created
      }
    }
  }
});

afterAll(async () => {
  await stopAll();
  if (cgroupDir) rmdirSync(cgroupDir);
});

describe('network namespaces', () => {
  it('reads every namespace found among processes and marks its rows', () => {
    const netns = /\[(\d+)\]/.exec(readlinkSync(`/proc/${inside.pid}/ns/net`))![1];
    const rows = snapshot('--pid', String(inside.pid));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      process: { pid: inside.pid, name: 'python3' },
      source: { ip: '127.0.0.1', port: inside.port },
      socket: { state: 'LISTEN', netns },
    });
    expect(cgroupDir, 'no writable cgroup hierarchy to place the test process in').not.toBeNull();
    expect(rows[0]!.container).toEqual({ id: containerId });
  });

  it('reads only its own namespace with --netns self', () => {
    expect(snapshot('--netns', 'self', '--pid', String(inside.pid))).toEqual([]);
    // Our own rows carry no netns mark.
    expect(snapshot('--netns', 'all').filter((r) => r.process.pid === inside.pid && !r.socket.netns)).toEqual([]);
  });
});
