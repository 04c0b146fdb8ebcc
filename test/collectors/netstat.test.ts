// The node-netstat collector, end to end on captured outputs: fixture → fake `netstat` → node-netstat's own
// spawning and line parsing → our collector → Connection rows; and a real run on this Linux machine.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { runHarness, readFixture, windowsRows, rowAt, invalidRows, openLoopbackTable, loopbackProblems, type HarnessResult } from './platform-fakes.js';
import { createNetstatCollector, netstatSpec, socketFromNetstat, type TappedLine } from '../../collectors/netstat.js';
import type { Connection } from '../../collectors/types.js';
import { startReady, stop } from '../support/processes.js';

const WIN_PROCS = 'windows-win32-process.json';
const MAC_PS = { ps: 'macos-ps-si-processes.txt', psPidCommand: 'macos-ps-axo-pid-command.txt' };
const nodeNetstat = createRequire(import.meta.url)('node-netstat') as {
  parsers: Record<string, (line: string, cb: (item: any) => void) => void>;
};

/** The socket fields both collectors fill from the table (no names), comparable across collectors. */
function tableView(rows: Connection[]): string[] {
  return rows
    .map((x) => [x.network.transport, x.socket.family, x.source.ip, x.source.port, x.destination.ip, x.destination.port, x.socket.state, x.process.pid, x.network.direction ?? '-'].join(' '))
    .sort();
}

describe('node-netstat on Windows `netstat -ano` (windows-netstat-ano.txt, Windows 10)', () => {
  let r: HarnessResult;
  let rows: Connection[];
  const lines = windowsRows(readFixture('windows-netstat-ano.txt'));
  beforeAll(async () => {
    r = await runHarness({ collector: 'node-netstat', platform: 'win32', netstat: 'windows-netstat-ano.txt', powershell: WIN_PROCS, library: true });
    expect(r.error, r.stderr).toBeUndefined();
    rows = r.rows!;
  });

  it('runs `netstat.exe -a -n -o`, the command the fixture is an output of (node-netstat and us alike)', () => {
    expect(r.calls.filter((c) => c.startsWith('netstat'))).toEqual(['netstat.exe -a -n -o', 'netstat.exe -a -n -o']);
  });

  it('library: turns 0.0.0.0 and [::] both into address null, so IPv4 and IPv6 wildcards look the same', () => {
    const at135 = r.library!.filter((i) => i.local.port === 135);
    expect(at135).toEqual([
      { protocol: 'tcp', local: { port: 135, address: null }, remote: { port: 0, address: null }, state: 'LISTENING', pid: 1712 },
      { protocol: 'tcp', local: { port: 135, address: null }, remote: { port: 0, address: null }, state: 'LISTENING', pid: 1712 },
    ]);
  });

  it('gives one valid row per socket line with addresses from the printed text', () => {
    expect(rows).toHaveLength(lines.length);
    expect(r.skipped).toBe(0);
    expect(invalidRows(rows)).toEqual([]);
    expect(rowAt(rows, 'tcp', '0.0.0.0', 135)).toMatchObject({ network: { type: 'ipv4' }, socket: { family: 'inet', state: 'LISTEN' }, process: { pid: 1712, name: 'svchost.exe' } });
    expect(rowAt(rows, 'tcp', '::', 135)).toMatchObject({ network: { type: 'ipv6' }, socket: { family: 'inet6', state: 'LISTEN' } });
    expect(rowAt(rows, 'udp', 'fe80::f5d1:8bf7:c410:e325', 52284)).toMatchObject({ destination: { ip: '::', port: 0 }, socket: { state: 'UNCONNECTED' }, process: { pid: 8844 } });
    expect(rowAt(rows, 'tcp', '127.0.0.1', 29802).process).toMatchObject({ pid: 6372, name: 'NVIDIA Web Helper.exe', parent: { name: 'nvcontainer.exe' } });
  });

  it('agrees with the systeminformation collector on the same capture', async () => {
    const other = await runHarness({ collector: 'systeminformation', platform: 'win32', netstat: 'windows-netstat-ano.txt', powershell: WIN_PROCS });
    expect(tableView(rows)).toEqual(tableView(other.rows!));
    expect(rows.map((x) => x.process.name).sort()).toEqual(other.rows!.map((x) => x.process.name).sort());
  });
});

describe('node-netstat on the other Windows captures', () => {
  it('Chinese locale (windows-netstat-ano-zh.txt): reads the rows whatever the line ends; the localised header is refused', async () => {
    const r = await runHarness({ collector: 'node-netstat', platform: 'win32', netstat: 'windows-netstat-ano-zh.txt', powershell: WIN_PROCS, library: true });
    expect(r.library![0]).toMatchObject({ protocol: '协议', pid: 0 }); // node-netstat parses the 5-word header as a row
    expect(r.skipped).toBe(1);
    expect(r.rows!.map((x) => [x.source.port, x.destination.port, x.socket.state, x.process.pid])).toEqual([
      [8411, 58296, 'TIME_WAIT', null],
      [8411, 58298, 'TIME_WAIT', null],
    ]);
  });

  it('`netstat -anob` (windows-netstat-anob.txt): TIME_WAIT pid 0 → null, CLOSE_WAIT, owner lines refused', async () => {
    const text = readFixture('windows-netstat-anob.txt');
    const r = await runHarness({ collector: 'node-netstat', platform: 'win32', netstat: 'windows-netstat-anob.txt', powershell: WIN_PROCS });
    expect(r.rows).toHaveLength(windowsRows(text).length);
    // node-netstat makes an item of every 4- or 5-word line: here "Can not obtain ownership information".
    const items = text.split('\r\n').filter((l) => [4, 5].includes(l.trim().split(/\s+/).length) && !/^\s*(TCP|UDP)\s/.test(l));
    expect(items.length).toBeGreaterThan(0);
    expect(r.skipped).toBe(items.length);
    expect(invalidRows(r.rows!)).toEqual([]);
    expect(rowAt(r.rows!, 'tcp', '192.168.31.221', 4718)).toMatchObject({ destination: { ip: '192.168.31.99', port: 53 }, socket: { state: 'TIME_WAIT' }, process: { pid: null } });
    expect(rowAt(r.rows!, 'tcp', '192.168.31.221', 4607)).toMatchObject({ destination: { ip: '192.229.221.95', port: 80 }, socket: { state: 'CLOSE_WAIT' }, process: { pid: 27568, name: 'SearchApp.exe' } });
  });
});

describe('node-netstat on macOS `netstat -vn` (macos-netstat-vnp-tcp-mojave.txt, 10.14)', () => {
  let r: HarnessResult;
  beforeAll(async () => {
    r = await runHarness({ collector: 'node-netstat', platform: 'darwin', netstat: 'macos-netstat-vnp-tcp-mojave.txt', ...MAC_PS, library: true });
    expect(r.error, r.stderr).toBeUndefined();
  });

  it('node-netstat runs `netstat -v -n` (no listeners on macOS); we run `netstat -anvl`', () => {
    expect(r.calls.filter((c) => c.startsWith('netstat'))).toEqual(['netstat -v -n', 'netstat -anvl']);
  });

  it('library: reads the pid of this 12-column layout right', () => {
    expect(r.library!.map((i) => i.pid)).toEqual(Array(7).fill(9811));
  });

  it('gives the same 7 rows as the systeminformation collector, named from the process list', async () => {
    const rows = r.rows!;
    expect(invalidRows(rows)).toEqual([]);
    expect(rows).toHaveLength(7);
    expect(rowAt(rows, 'tcp', '192.168.1.191', 52040)).toMatchObject({
      destination: { ip: '140.82.114.4', port: 443 },
      socket: { state: 'CLOSE_WAIT', family: 'inet' },
      network: { direction: 'egress', type: 'ipv4' },
      process: { pid: 9811, name: 'Google Chrome', parent: { pid: 1, name: 'launchd' } },
      user: { name: 'alice' },
    });
    const other = await runHarness({ collector: 'systeminformation', platform: 'darwin', netstat: 'macos-netstat-vnp-tcp-mojave.txt', ...MAC_PS });
    expect(tableView(rows)).toEqual(tableView(other.rows!));
  });
});

describe('node-netstat on macOS with hostile input (macos-netstat-vnp-hostile.txt, synthetic)', () => {
  it('ignores a forged row in a UNIX socket path (plain node-netstat takes it) and reads `*.4444`', async () => {
    const r = await runHarness({ collector: 'node-netstat', platform: 'darwin', netstat: 'macos-netstat-vnp-hostile.txt', ...MAC_PS, library: true });
    expect(r.library!.filter((i) => i.remote.address === '203.0.113.66')).toHaveLength(1);
    expect(r.library![0]).toMatchObject({ local: { port: null, address: null }, pid: 777 }); // `*.4444` lost its port
    const rows = r.rows!;
    expect(rows.filter((x) => x.destination.ip === '203.0.113.66')).toEqual([]);
    expect(rows).toHaveLength(3);
    expect(rowAt(rows, 'tcp', '0.0.0.0', 4444).process).toMatchObject({ pid: 777, name: '\u001b[31mred name' });
  });
});

describe('node-netstat on macOS `netstat -an` (macos-netstat-an.txt: no -v, so no pid column)', () => {
  it('library: its parser throws on such rows (inside a stream event, which would crash the process)', () => {
    const line = readFixture('macos-netstat-an.txt').split('\n')[2]!;
    expect(() => nodeNetstat.parsers.darwin!(line, () => undefined)).toThrow(TypeError);
  });

  it('our collector survives: the rows are counted as unreadable, the later sections are not read', async () => {
    const r = await runHarness({ collector: 'node-netstat', platform: 'darwin', netstat: 'macos-netstat-an.txt', ...MAC_PS });
    expect(r.error).toBeUndefined();
    expect(r.rows).toEqual([]);
    expect(r.skipped).toBe(6);
  });
});

describe('node-netstat on the newer macOS `-v` layout (rxbytes, txbytes, process:pid)', () => {
  // No capture of this layout is in the shared fixtures; the line follows the column order systeminformation's
  // parser handles (…(state) rxbytes txbytes rhiwat shiwat process:pid state options gencnt flags flags1 usscnt rtncnt fltrs).
  const line = 'tcp4       0      0  10.0.0.5.51976         93.184.216.34.443      ESTABLISHED         2960          528  406912  146988  Google Chrome:4242  00102 00000008 000000000bf559ba 00000080 04000800      2      0 000000';
  it('library: reads the receive buffer size (rhiwat) as the pid; we keep the row with process.pid null', () => {
    const tapped: TappedLine = { line };
    nodeNetstat.parsers.darwin!(line, (item) => (tapped.item = item));
    expect(tapped.item?.pid).toBe(406912);
    const s = socketFromNetstat('darwin', tapped);
    expect(s).toMatchObject({ localIp: '10.0.0.5', localPort: 51976, remoteIp: '93.184.216.34', remotePort: 443, state: 'ESTABLISHED', pid: null });
    expect(netstatSpec.limitations.some((l) => l.includes('after 10.14'))).toBe(true);
  });
});

describe('node-netstat failures are SOCKHUNT_E_COLLECT errors', () => {
  it('netstat missing', async () => {
    const r = await runHarness({ collector: 'node-netstat', platform: 'linux', netstat: null });
    expect(r.error).toMatchObject({ code: 'SOCKHUNT_E_COLLECT' });
    expect(r.error!.message).toMatch(/netstat -apntuW.*ENOENT/);
  });

  it('netstat printing nothing', async () => {
    const r = await runHarness({ collector: 'node-netstat', platform: 'linux' });
    expect(r.error).toMatchObject({ code: 'SOCKHUNT_E_COLLECT' });
    expect(r.error!.message).toContain('printed nothing');
  });

  it('netstat never ending: killed after the timeout', async () => {
    const r = await runHarness({ collector: 'node-netstat', platform: 'linux', netstat: 'macos-netstat-an.txt', hang: true, timeoutMs: 300 });
    expect(r.error).toMatchObject({ code: 'SOCKHUNT_E_COLLECT' });
    expect(r.error!.message).toContain('no end after 300 ms');
  });

  it('a platform node-netstat does not know', () => {
    expect(() => createNetstatCollector({ platform: 'aix' })).toThrow(expect.objectContaining({ code: 'SOCKHUNT_E_PLATFORM' }));
  });
});

describe('node-netstat for real on this Linux machine', () => {
  let t: Awaited<ReturnType<typeof openLoopbackTable>>;
  beforeAll(async () => {
    try {
      execFileSync('sh', ['-c', 'command -v netstat'], { stdio: 'ignore' });
    } catch {
      throw new Error('`netstat` is not installed: the node-netstat collector needs net-tools on Linux (apt-get install -y net-tools)');
    }
    t = await openLoopbackTable();
  });
  afterAll(() => t?.close());

  it('lists listeners and both ends of loopback connections (IPv4, IPv6, IPv4-mapped) and unconnected UDP, owned by this process', async () => {
    const rows = await createNetstatCollector().sample();
    expect(loopbackProblems(rows, t, process.pid)).toEqual([]);
    expect(rowAt(rows, 'tcp', '127.0.0.1', t.tcp, { ip: '0.0.0.0', port: 0 }).process.name).toEqual(expect.any(String));
    expect(rowAt(rows, 'udp', '127.0.0.1', t.udpOpen)).toMatchObject({ socket: { state: 'UNCONNECTED' }, process: { pid: process.pid } });
  });

  it('connected UDP: the row is there, its pid null (node-netstat reads NaN: listed limitation)', async () => {
    const rows = await createNetstatCollector().sample();
    expect(rowAt(rows, 'udp', '127.0.0.1', t.udpConnected)).toMatchObject({
      destination: { ip: '127.0.0.1', port: t.udpOpen },
      socket: { state: 'ESTABLISHED', owner_pids: [] },
      process: { pid: null, name: null },
      network: { direction: 'egress' },
    });
  });

  it('survives a process name holding a newline (netstat prints it raw; plain node-netstat throws uncaught)', async () => {
    const argv0 = 'evil app\nudp 0 0 ::1:1 ::1:2 \u001b[31m';
    const script = "const s=require('net').createServer().listen(0,'127.0.0.1',()=>console.log(JSON.stringify(s.address().port)));";
    const { child, ready } = await startReady<number>(process.execPath, ['-e', script], { argv0 });
    try {
      const collector = createNetstatCollector();
      const rows = await collector.sample();
      expect(rowAt(rows, 'tcp', '127.0.0.1', ready).process.pid).toBe(child.pid);
      expect(collector.lastSkipped).toBeGreaterThanOrEqual(1); // the broken-off rest of the name
      expect(rows.some((x) => x.source.ip === '::1' && (x.source.port === 1 || x.source.port === 2))).toBe(false);
    } finally {
      await stop(child);
    }
  });
});
