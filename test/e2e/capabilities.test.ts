// The unit's capability set (package/systemd-unit.ts CAPABILITIES) is enough: root reduced to those
// capabilities sees the owner of a socket of another user and a socket in another network namespace, as full
// root does, and opens the DNS tap; with fewer it does not. CAP_SYS_ADMIN is not among them: other namespaces are read from
// /proc/<pid>/net when netlink cannot enter them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CAPABILITIES } from '../../package/systemd-unit.js';
import { readableTempDir } from '../support/other-user.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const canRun =
  process.platform === 'linux' &&
  process.getuid?.() === 0 &&
  spawnSync('setpriv', ['--version']).status === 0 &&
  spawnSync('unshare', ['--net', 'true']).status === 0;

interface Listener {
  child: ChildProcess;
  port: number;
}

describe.runIf(canRun)('capabilities of the service', () => {
  // nobody runs listen.cjs from here
  const scratchDir = readableTempDir('sockhunt-caps-');
  const scratch = scratchDir.dir;
  const listeners: Listener[] = [];

  async function listen(wrapper: string[]): Promise<Listener> {
    const child = spawn(wrapper[0]!, [...wrapper.slice(1), process.execPath, join(scratch, 'listen.cjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
    const l = { child, port: Number(chunk.toString().trim()) };
    listeners.push(l);
    return l;
  }

  let otherUser: Listener;
  let otherNetns: Listener;
  beforeAll(async () => {
    writeFileSync(join(scratch, 'listen.cjs'), "const s = require('net').createServer().listen(0, '127.0.0.1', () => console.log(s.address().port));\n");
    otherUser = await listen(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
    otherNetns = await listen(['unshare', '--net', 'sh', '-c', 'ip link set lo up 2>/dev/null; exec "$0" "$@"']);
  });
  afterAll(() => {
    for (const l of listeners) l.child.kill();
    scratchDir.remove();
  });

  /** The owning pid of each of our listeners (undefined: the socket was not seen at all) with these capabilities. */
  function owners(caps: readonly string[] | null): Array<number | null | undefined> {
    const bounding = caps && `-all${caps.map((c) => `,+${c.replace(/^CAP_/, '').toLowerCase()}`).join('')}`;
    const cli = [process.execPath, join(root, 'bin/sockhunt.js'), 'snapshot', '--format', 'json', '--listening'];
    const r = bounding ? spawnSync('setpriv', ['--inh-caps=-all', `--bounding-set=${bounding}`, ...cli], { encoding: 'utf8' }) : spawnSync(cli[0]!, cli.slice(1), { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<{ source: { port: number; ip: string }; process: { pid: number | null }; socket: { inode: number } }>;
    return [otherUser, otherNetns].map((l) => rows.find((row) => row.source.port === l.port && row.source.ip === '127.0.0.1')?.process.pid);
  }

  it('root with the unit capabilities sees what full root sees', () => {
    const expected = [otherUser.child.pid, otherNetns.child.pid];
    expect(owners(null)).toEqual(expected);
    expect(owners(CAPABILITIES)).toEqual(owners(null));
  });

  /** What opening the DNS tap gives with these capabilities: 'open' or the error code. */
  function dnsTap(caps: readonly string[]): string {
    const bounding = `-all${caps.map((c) => `,+${c.replace(/^CAP_/, '').toLowerCase()}`).join('')}`;
    const module = JSON.stringify(join(root, 'collectors/dns-names.ts'));
    const script = `import(${module}).then((m) => { try { m.DnsNames.open().close(); console.log('open'); } catch (e) { console.log(e.code); } })`;
    const r = spawnSync('setpriv', ['--inh-caps=-all', `--bounding-set=${bounding}`, process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', cwd: root });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.trim();
  }

  it('CAP_NET_RAW opens the DNS tap; without it the agent is told why', () => {
    expect(dnsTap(CAPABILITIES)).toBe('open');
    expect(dnsTap(CAPABILITIES.filter((c) => c !== 'CAP_NET_RAW'))).toBe('SOCKHUNT_E_DNSTAP');
  });

  it('each of the socket readers is needed', () => {
    // Without CAP_DAC_READ_SEARCH /proc/<pid>/fd of another user cannot be listed: the owner is unknown.
    expect(owners(CAPABILITIES.filter((c) => c !== 'CAP_DAC_READ_SEARCH'))[0]).toBeNull();
    // Without CAP_SYS_PTRACE neither fd links nor /proc/<pid>/ns/net can be read: no owner, no foreign namespace.
    expect(owners(CAPABILITIES.filter((c) => c !== 'CAP_SYS_PTRACE'))).toEqual([null, undefined]);
  });
});
