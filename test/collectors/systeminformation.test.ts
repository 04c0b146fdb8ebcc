// The systeminformation collector, end to end on captured outputs: fixture → fake platform tool →
// systeminformation's own parsing (loaded as if on win32/darwin) → our collector → Connection rows.
// Plus the shared pure helpers (platform-rows.ts, platform-processes.ts) and a real run on this Linux machine.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { runHarness, readFixture, windowsRows, rowAt, invalidRows, openLoopbackTable, loopbackProblems, type HarnessResult } from './platform-fakes.js';
import { createSystemInformationCollector, systemInformationSpec } from '../../collectors/systeminformation.js';
import {
  normalizeState,
  splitEndpoint,
  normalizeHost,
  mayBeCutByNetTools,
  toRawSocket,
  toConnections,
} from '../../collectors/platform-rows.js';
import { directionOf, listenerIndex } from '../../collectors/direction.js';
import { processTableFromSi, ProcessTable } from '../../collectors/platform-processes.js';
import type { Connection } from '../../collectors/types.js';
import { startReady, stop } from '../support/processes.js';

const WIN_PROCS = 'windows-win32-process.json';
const HOSTILE_WIN_NAME = 'evil name\n\u001b[31mred.exe';

describe('systeminformation on Windows `netstat -ano` (windows-netstat-ano.txt, Windows 10)', () => {
  let r: HarnessResult;
  let rows: Connection[];
  const lines = windowsRows(readFixture('windows-netstat-ano.txt'));
  beforeAll(async () => {
    r = await runHarness({ collector: 'systeminformation', platform: 'win32', netstat: 'windows-netstat-ano.txt', powershell: WIN_PROCS, library: true });
    expect(r.error, r.stderr).toBeUndefined();
    rows = r.rows!;
  });

  it('runs the command the fixture is an output of, and Win32_Process through PowerShell', () => {
    expect(r.calls.filter((c) => c.startsWith('netstat'))[0]).toBe('netstat -nao');
    expect(r.calls.some((c) => c.startsWith('powershell.exe'))).toBe(true);
    expect(r.processError).toBeNull();
  });

  it('library: gives no process names on Windows and returns the header line as a row', () => {
    const lib = r.library!;
    expect(lib.every((c) => c.process === '')).toBe(true);
    expect(lib.filter((c) => c.protocol === 'proto')).toHaveLength(1);
    expect(lib).toHaveLength(lines.length + 1);
  });

  it('gives one valid row per socket line, in order, the header dropped', () => {
    expect(rows).toHaveLength(lines.length);
    expect(r.skipped).toBe(1);
    expect(invalidRows(rows)).toEqual([]);
    rows.forEach((row, i) => {
      const [proto, local, , , last] = lines[i]!;
      const pid = Number(proto === 'UDP' ? lines[i]![3] : last);
      expect(row.network.transport).toBe(proto!.toLowerCase());
      expect(row.source.port).toBe(Number(local!.slice(local!.lastIndexOf(':') + 1)));
      expect(row.process.pid).toBe(pid === 0 ? null : pid);
    });
  });

  it('keeps IPv4 and IPv6 wildcard listeners apart', () => {
    const v4 = rowAt(rows, 'tcp', '0.0.0.0', 135);
    const v6 = rowAt(rows, 'tcp', '::', 135);
    expect(v4).toMatchObject({ destination: { ip: '0.0.0.0', port: 0 }, network: { type: 'ipv4' }, socket: { state: 'LISTEN', family: 'inet' } });
    expect(v6).toMatchObject({ destination: { ip: '::', port: 0 }, network: { type: 'ipv6' }, socket: { state: 'LISTEN', family: 'inet6' } });
    expect(v4.network.direction).toBeUndefined();
    expect(rowAt(rows, 'tcp', '::1', 1025).process.pid).toBe(6088);
  });

  it('maps ESTABLISHED rows with their direction', () => {
    const row = rowAt(rows, 'tcp', '127.0.0.1', 1031, { ip: '127.0.0.1', port: 1032 });
    expect(row).toMatchObject({ socket: { state: 'ESTABLISHED' }, network: { direction: 'egress' }, process: { pid: 10644, name: 'ProductAgentService.exe' } });
  });

  it('shows UDP as unconnected with the wildcard of its family, zone ids dropped', () => {
    const ll = rowAt(rows, 'udp', 'fe80::244e:2f1e:2096:62b2', 1900);
    expect(ll).toMatchObject({ destination: { ip: '::', port: 0 }, network: { type: 'ipv6' }, socket: { state: 'UNCONNECTED', family: 'inet6' } });
    expect(ll.process.pid).toBe(8844);
    expect(rows.filter((x) => x.network.transport === 'udp' && x.source.ip === '0.0.0.0' && x.source.port === 53)).toHaveLength(2);
    expect(rows.filter((x) => x.network.transport === 'udp').every((x) => x.socket.state === 'UNCONNECTED')).toBe(true);
  });

  it('takes names, paths, command lines and parents from the process list, names with spaces whole', () => {
    const svc = rowAt(rows, 'tcp', '0.0.0.0', 135);
    expect(svc.process).toEqual({
      pid: 1712,
      name: 'svchost.exe',
      executable: 'C:\\WINDOWS\\system32\\svchost.exe',
      command_line: '"C:\\WINDOWS\\system32\\svchost.exe" -k netsvcs -p',
      parent: { pid: 1384, name: 'services.exe' },
    });
    const nvidia = rowAt(rows, 'tcp', '127.0.0.1', 29802);
    expect(nvidia.process).toMatchObject({ pid: 6372, name: 'NVIDIA Web Helper.exe', parent: { pid: 7140, name: 'nvcontainer.exe' } });
    expect(nvidia.user).toEqual({ name: null, id: null });
  });

  it('System has no path or command line; a pid missing from the process list keeps its pid only', () => {
    expect(rowAt(rows, 'tcp', '0.0.0.0', 445).process).toEqual({ pid: 4, name: 'System', executable: null, command_line: null, parent: { pid: null, name: null } });
    const unknown = rowAt(rows, 'tcp', '::', 49665);
    expect(unknown.process).toEqual({ pid: 1036, name: null, executable: null, command_line: null, parent: { pid: null, name: null } });
  });

  it('keeps a hostile process name (newline, escape code) as data without disturbing other rows', () => {
    const hostile = rows.filter((x) => x.process.pid === 28108);
    expect(hostile.length).toBeGreaterThan(0);
    for (const row of hostile) expect(row.process.name).toBe(HOSTILE_WIN_NAME);
    expect(rows).toHaveLength(lines.length);
  });
});

describe('systeminformation on the Chinese-locale `netstat -ano` (windows-netstat-ano-zh.txt)', () => {
  it('as stored (LF line ends) systeminformation, which splits on CRLF, returns no socket at all', async () => {
    const r = await runHarness({ collector: 'systeminformation', platform: 'win32', netstat: 'windows-netstat-ano-zh.txt', powershell: WIN_PROCS });
    expect(r.error).toBeUndefined();
    expect(r.rows).toEqual([]);
    expect(r.skipped).toBe(1);
  });

  it('with CRLF as Windows prints it: the two TIME_WAIT rows, pid 0 as null, the localised header dropped', async () => {
    const r = await runHarness({ collector: 'systeminformation', platform: 'win32', netstat: 'windows-netstat-ano-zh.txt', crlf: true, powershell: WIN_PROCS });
    expect(r.skipped).toBe(1);
    expect(r.rows!.map((x) => [x.source.ip, x.source.port, x.destination.ip, x.destination.port, x.socket.state, x.process.pid])).toEqual([
      ['127.0.0.1', 8411, '127.0.0.1', 58296, 'TIME_WAIT', null],
      ['127.0.0.1', 8411, '127.0.0.1', 58298, 'TIME_WAIT', null],
    ]);
    expect(invalidRows(r.rows!)).toEqual([]);
  });
});

describe('systeminformation on `netstat -anob` (windows-netstat-anob.txt): owner lines between the rows', () => {
  it('reads every socket row, drops the owner lines it turns into rows, maps TIME_WAIT and CLOSE_WAIT', async () => {
    const text = readFixture('windows-netstat-anob.txt');
    const r = await runHarness({ collector: 'systeminformation', platform: 'win32', netstat: 'windows-netstat-anob.txt', powershell: WIN_PROCS });
    const lines = windowsRows(text);
    expect(r.rows).toHaveLength(lines.length);
    // systeminformation makes a row of every line with 4+ words: the header and "Can not obtain ownership information".
    const wordy = text.split('\r\n').filter((l) => l.trim().split(/\s+/).length >= 4 && !/^\s*(TCP|UDP)\s/.test(l));
    expect(r.skipped).toBe(wordy.length);
    expect(invalidRows(r.rows!)).toEqual([]);
    const tw = rowAt(r.rows!, 'tcp', '192.168.31.221', 4713);
    expect(tw).toMatchObject({ destination: { ip: '157.240.252.61', port: 5222 }, socket: { state: 'TIME_WAIT' }, process: { pid: null, name: null }, network: { direction: 'egress' } });
    const cw = rowAt(r.rows!, 'tcp', '192.168.31.221', 4604);
    expect(cw).toMatchObject({ destination: { ip: '82.102.152.152', port: 443 }, socket: { state: 'CLOSE_WAIT' }, process: { pid: 27568, name: 'SearchApp.exe' } });
  });
});

describe('systeminformation on macOS `netstat -vn` (macos-netstat-vnp-tcp-mojave.txt, 10.14)', () => {
  let r: HarnessResult;
  beforeAll(async () => {
    r = await runHarness({
      collector: 'systeminformation',
      platform: 'darwin',
      netstat: 'macos-netstat-vnp-tcp-mojave.txt',
      ps: 'macos-ps-si-processes.txt',
      psPidCommand: 'macos-ps-axo-pid-command.txt',
      library: true,
    });
    expect(r.error, r.stderr).toBeUndefined();
  });

  it('runs `netstat -natvln` (same -v columns as the capture) and ps', () => {
    expect(r.calls).toContain('netstat -natvln');
    expect(r.calls).toContain('ps -axo pid,command');
    expect(r.calls.some((c) => c.startsWith('ps -axo pid,ppid'))).toBe(true);
  });

  it('library: `process` is the command line up to its first argument, not a name', () => {
    expect(r.library!.map((c) => c.process)).toEqual(Array(7).fill('/Applications/Google Chrome.app/Contents/MacOS/Google Chrome'));
  });

  it('gives the 7 tcp4 rows with pid, state and both endpoints from the capture', () => {
    const rows = r.rows!;
    expect(invalidRows(rows)).toEqual([]);
    expect(rows.map((x) => `${x.source.ip}.${x.source.port} ${x.destination.ip}.${x.destination.port} ${x.socket.state}`)).toEqual([
      '192.168.1.191.52044 31.13.66.35.443 ESTABLISHED',
      '192.168.1.191.52043 31.13.66.19.443 ESTABLISHED',
      '192.168.1.191.52041 140.82.114.26.443 ESTABLISHED',
      '192.168.1.191.52040 140.82.114.4.443 CLOSE_WAIT',
      '192.168.1.191.52039 140.82.114.4.443 ESTABLISHED',
      '192.168.1.191.52036 140.82.114.4.443 CLOSE_WAIT',
      '192.168.1.191.52032 151.101.201.7.443 ESTABLISHED',
    ]);
    for (const row of rows) {
      expect(row).toMatchObject({ network: { transport: 'tcp', type: 'ipv4', direction: 'egress' }, socket: { family: 'inet', owner_pids: [9811] } });
    }
  });

  it('takes the whole name (with its space), path, command line, parent and user from the process list', () => {
    expect(r.rows![0]!.process).toEqual({
      pid: 9811,
      name: 'Google Chrome',
      executable: '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
      command_line: '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome --enable-features=NetworkService',
      parent: { pid: 1, name: 'launchd' },
    });
    expect(r.rows![0]!.user).toEqual({ name: 'alice', id: null });
  });
});

describe('systeminformation on macOS with hostile input (macos-netstat-vnp-hostile.txt, synthetic)', () => {
  it('keeps a name with an escape code and a space as data; reads a forged line from a UNIX socket path (listed limitation)', async () => {
    const r = await runHarness({
      collector: 'systeminformation',
      platform: 'darwin',
      netstat: 'macos-netstat-vnp-hostile.txt',
      ps: 'macos-ps-si-processes.txt',
      psPidCommand: 'macos-ps-axo-pid-command.txt',
    });
    const rows = r.rows!;
    expect(invalidRows(rows)).toEqual([]);
    const listener = rowAt(rows, 'tcp', '0.0.0.0', 4444);
    expect(listener.process).toMatchObject({
      pid: 777,
      name: '\u001b[31mred name',
      command_line: '/Users/alice/Library/Caches/\u001b[31mred name --listen 4444',
    });
    expect(listener.network.direction).toBeUndefined();
    // The last line of the fixture continues a UNIX socket path; systeminformation greps it as a socket.
    const forged = rows.filter((x) => x.destination.ip === '203.0.113.66');
    expect(forged).toHaveLength(1);
    expect(systemInformationSpec.limitations.some((l) => l.includes('UNIX socket path'))).toBe(true);
  });
});

describe('systeminformation on BSD `netstat -na` (macos-netstat-an.txt, the same BSD output format)', () => {
  it('drops every row (6 columns where it needs 7): BSD is not among the supported platforms', async () => {
    const r = await runHarness({ collector: 'systeminformation', platform: 'freebsd', netstat: 'macos-netstat-an.txt', library: true });
    expect(r.calls[0]).toBe('netstat -na');
    expect(r.rows).toEqual([]);
    expect(systemInformationSpec.platforms).not.toContain('freebsd');
  });
});

describe('systeminformation for real on this Linux machine', () => {
  let t: Awaited<ReturnType<typeof openLoopbackTable>>;
  beforeAll(async () => {
    const tool = ['netstat', 'ss'].find((name) => {
      try {
        execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    });
    if (!tool) throw new Error('neither netstat (net-tools) nor ss (iproute2) is installed: systeminformation cannot list sockets on Linux');
    t = await openLoopbackTable();
  });
  afterAll(() => t?.close());

  it('lists listeners and both ends of loopback connections (IPv4, IPv6, IPv4-mapped) with this process as owner', async () => {
    const rows = await createSystemInformationCollector().sample();
    expect(loopbackProblems(rows, t, process.pid)).toEqual([]);
    expect(rowAt(rows, 'tcp', '127.0.0.1', t.tcp, { ip: '0.0.0.0', port: 0 }).process.name).toEqual(expect.any(String));
  });

  it('shows connected UDP but not unconnected UDP (systeminformation greps for states: listed limitation)', async () => {
    const rows = await createSystemInformationCollector().sample();
    const connected = rowAt(rows, 'udp', '127.0.0.1', t.udpConnected);
    expect(connected).toMatchObject({ socket: { state: 'ESTABLISHED' }, destination: { port: t.udpOpen }, network: { direction: 'egress' }, process: { pid: process.pid } });
    expect(rows.filter((x) => x.network.transport === 'udp' && x.source.port === t.udpOpen)).toEqual([]);
    expect(systemInformationSpec.limitations.some((l) => l.includes('unconnected UDP'))).toBe(true);
  });

  it('is not fooled by a process whose name holds a newline and escape codes', async () => {
    const argv0 = 'evil app\nudp 0 0 ::1:1 ::1:2 \u001b[31m';
    const script = "const s=require('net').createServer().listen(0,'127.0.0.1',()=>console.log(JSON.stringify(s.address().port)));";
    const { child, ready } = await startReady<number>(process.execPath, ['-e', script], { argv0 });
    try {
      const rows = await createSystemInformationCollector().sample();
      const listener = rowAt(rows, 'tcp', '127.0.0.1', ready);
      expect(listener.process.pid).toBe(child.pid);
      expect(rows.some((x) => x.source.ip === '::1' && (x.source.port === 1 || x.source.port === 2))).toBe(false);
      expect(invalidRows(rows.filter((x) => x.process.pid === child.pid))).toEqual([]);
    } finally {
      await stop(child);
    }
  });
});

describe('systeminformation collector errors', () => {
  const processes = async () => ({ list: [] });
  it('a failing or hung connection list is a SOCKHUNT_E_COLLECT error', async () => {
    const failing = createSystemInformationCollector({ platform: 'win32', processes, networkConnections: () => Promise.reject(new Error('exec failed')) });
    await expect(failing.sample()).rejects.toMatchObject({ code: 'SOCKHUNT_E_COLLECT', message: expect.stringContaining('exec failed') });
    const hung = createSystemInformationCollector({ platform: 'win32', processes, timeoutMs: 20, networkConnections: () => new Promise(() => undefined) });
    await expect(hung.sample()).rejects.toMatchObject({ code: 'SOCKHUNT_E_COLLECT', message: expect.stringContaining('no answer after 20 ms') });
    const odd = createSystemInformationCollector({ platform: 'win32', processes, networkConnections: async () => null as never });
    await expect(odd.sample()).rejects.toMatchObject({ code: 'SOCKHUNT_E_COLLECT' });
  });

  it('a failing process list degrades the rows (pids kept, no names), it does not fail the sample', async () => {
    const c = createSystemInformationCollector({
      platform: 'win32',
      processes: () => Promise.reject(new Error('PowerShell missing')),
      networkConnections: async () => [{ protocol: 'tcp', localAddress: '0.0.0.0', localPort: '135', peerAddress: '0.0.0.0', peerPort: '0', state: 'LISTEN', pid: 1712, process: '' }],
    });
    const rows = await c.sample();
    expect(rows.map((x) => [x.process.pid, x.process.name])).toEqual([[1712, null]]);
    expect(String(c.processes.lastError)).toContain('PowerShell missing');
  });
});

describe('platform-rows: shared normalisation', () => {
  it('names TCP states as the kernel does, whatever the platform printed', () => {
    const cases: Array<[string, string]> = [
      ['LISTENING', 'LISTEN'], ['LISTEN', 'LISTEN'], ['ESTABLISHED', 'ESTABLISHED'], ['ESTAB', 'ESTABLISHED'],
      ['SYN_SENT', 'SYN_SENT'], ['SYN-SENT', 'SYN_SENT'], ['SYN_RECEIVED', 'SYN_RECV'], ['SYN_RCVD', 'SYN_RECV'],
      ['FIN_WAIT_1', 'FIN_WAIT1'], ['FIN-WAIT-2', 'FIN_WAIT2'], ['FIN_WAIT2', 'FIN_WAIT2'], ['TIME_WAIT', 'TIME_WAIT'],
      ['CLOSE_WAIT', 'CLOSE_WAIT'], ['LAST_ACK', 'LAST_ACK'], ['CLOSING', 'CLOSING'], ['CLOSED', 'CLOSE'],
      ['DELETE_TCB', 'UNKNOWN'], ['Bound', 'UNKNOWN'], ['', 'UNKNOWN'],
    ];
    for (const [text, state] of cases) expect([text, normalizeState(text, 'tcp', true)]).toEqual([text, state]);
    expect(normalizeState('', 'udp', false)).toBe('UNCONNECTED');
    expect(normalizeState('UNKNOWN', 'udp', false)).toBe('UNCONNECTED');
    expect(normalizeState('ESTABLISHED', 'udp', true)).toBe('ESTABLISHED');
  });

  it('splits host:port and macOS host.port, brackets and zones included', () => {
    expect(splitEndpoint('0.0.0.0:135', 'colon')).toEqual({ host: '0.0.0.0', port: '135' });
    expect(splitEndpoint('[fe80::244e:2f1e:2096:62b2%9]:1900', 'colon')).toEqual({ host: 'fe80::244e:2f1e:2096:62b2%9', port: '1900' });
    expect(splitEndpoint(':::22', 'colon')).toEqual({ host: '::', port: '22' });
    expect(splitEndpoint('*:*', 'colon')).toEqual({ host: '*', port: '*' });
    expect(splitEndpoint('192.168.1.191.52044', 'dot')).toEqual({ host: '192.168.1.191', port: '52044' });
    expect(splitEndpoint('*.80', 'dot')).toEqual({ host: '*', port: '80' });
    expect(splitEndpoint('fe80::1%lo0.5353', 'dot')).toEqual({ host: 'fe80::1%lo0', port: '5353' });
    expect(splitEndpoint('Address', 'colon')).toBeNull();
  });

  it('normalises hosts: wildcards by family, IPv4-mapped as IPv4, junk refused', () => {
    expect(normalizeHost('*', 'inet')).toBe('0.0.0.0');
    expect(normalizeHost('*', 'inet6')).toBe('::');
    expect(normalizeHost('[::]', 'inet6')).toBe('::');
    expect(normalizeHost('::FFFF:10.0.0.7', 'inet6')).toBe('10.0.0.7');
    expect(normalizeHost('FE80::1%lo0', 'inet6')).toBe('fe80::1');
    expect(normalizeHost('2600:1700:bab0:d', 'inet6')).toBeNull(); // macOS `netstat -An` cut it
    expect(normalizeHost('本地地址', 'inet')).toBeNull();
  });

  it('maps the rows of macOS `netstat -an` (macos-netstat-an.txt): tcp46/udp46 wildcards are IPv6, UDP unconnected', () => {
    const text = readFixture('macos-netstat-an.txt');
    const section = text.split('Active Multipath')[0]!.split('\n').slice(2).filter(Boolean);
    const got = section.map((line) => {
      const [proto, , , local, remote, state] = line.trim().split(/\s+/);
      const s = toRawSocket({ protocol: proto!, local: splitEndpoint(local!, 'dot')!, remote: splitEndpoint(remote!, 'dot')!, state, pid: null });
      return typeof s === 'string' ? s : `${s.transport} ${s.family} ${s.localIp} ${s.localPort} ${s.remoteIp} ${s.remotePort} ${s.state}`;
    });
    expect(got).toEqual([
      'tcp inet 10.8.0.6 54433 1.2.3.4 443 ESTABLISHED',
      'tcp inet6 :: 80 :: 0 LISTEN',
      'tcp inet6 :: 88 :: 0 LISTEN',
      'udp inet 0.0.0.0 0 0.0.0.0 0 UNCONNECTED',
      'udp inet6 :: 52919 :: 0 UNCONNECTED',
      'udp inet6 :: 0 :: 0 UNCONNECTED',
    ]);
  });

  it('flags addresses net-tools netstat may have cut (measured: "2001:db8:1234:567:45678" for …:1234:5678)', () => {
    expect(mayBeCutByNetTools('2001:db8:1234:567', '45678')).toBe(true);
    expect(mayBeCutByNetTools('::1', '35524')).toBe(false);
    expect(mayBeCutByNetTools('192.168.100.200', '65535')).toBe(false);
    expect(mayBeCutByNetTools('[2001:db8:1234:5678:9abc:def0:1234:5678]', '443')).toBe(false); // ss: whole
  });

  it('refuses rows that are not sockets, and reads pids strictly', () => {
    const ep = { host: '0.0.0.0', port: '1' };
    expect(toRawSocket({ protocol: 'Proto', local: ep, remote: ep, state: 'x', pid: 1 })).toBe('protocol');
    expect(toRawSocket({ protocol: 'mptcp', local: ep, remote: ep, state: 'x', pid: 1 })).toBe('protocol');
    expect(toRawSocket({ protocol: 'tcp', local: { host: 'Local', port: '' }, remote: ep, state: 'x', pid: 1 })).toBe('address');
    expect(toRawSocket({ protocol: 'tcp', local: { host: '1.2.3.4', port: '70000' }, remote: ep, state: 'x', pid: 1 })).toBe('port');
    for (const pid of [0, NaN, null, undefined, -1, 1.5, 'PID']) {
      const s = toRawSocket({ protocol: 'tcp', local: ep, remote: ep, state: 'LISTEN', pid });
      expect(typeof s !== 'string' && s.pid).toBeNull();
    }
  });

  it('gives direction: none for listeners and unconnected UDP, ingress on a listening port, else egress', () => {
    const sock = (transport: 'tcp' | 'udp', localIp: string, localPort: number, state: string, remotePort = 40000) =>
      toRawSocket({ protocol: transport, local: { host: localIp, port: String(localPort) }, remote: { host: '10.0.0.9', port: String(remotePort) }, state, pid: 5 }) as never;
    const listen = sock('tcp', '0.0.0.0', 22, 'LISTEN', 0);
    const table = [listen, sock('tcp', '10.0.0.1', 22, 'ESTABLISHED'), sock('tcp', '10.0.0.1', 50000, 'ESTABLISHED', 22), sock('udp', '10.0.0.1', 53, '', 0)];
    const listeners = listenerIndex(table);
    expect(table.map((s) => directionOf(s, listeners))).toEqual([undefined, 'ingress', 'egress', undefined]);
    const rows = toConnections(table, { hostName: 'h', timestamp: new Date(0).toISOString(), owners: new Map() });
    expect(rows.map((x) => x.network.direction)).toEqual([undefined, 'ingress', 'egress', undefined]);
    expect(rows.every((x) => !('direction' in x.network) || x.network.direction !== undefined)).toBe(true);
  });

  it('names the owner from the process list first, from the tool only when the list lacks the pid', () => {
    const s = (pid: number, processName: string) =>
      toRawSocket({ protocol: 'tcp', local: { host: '10.0.0.1', port: '5000' }, remote: { host: '10.0.0.2', port: '443' }, state: 'ESTABLISHED', pid, processName }) as never;
    const owners = new Map([[1, { pid: 1, name: 'Google Chrome Helper', comm: null, executable: '/A/Google Chrome Helper', executableDeleted: false, commandLine: null, uid: null, userName: 'alice', ppid: null, parentName: null, startTime: null }]]);
    const rows = toConnections([s(1, 'Google'), s(2, '/usr/sbin/mDNSResponder'), s(3, '')], { hostName: 'h', timestamp: new Date(0).toISOString(), owners });
    expect(rows.map((x) => [x.process.pid, x.process.name, x.user.name])).toEqual([
      [1, 'Google Chrome Helper', 'alice'],
      [2, 'mDNSResponder', null],
      [3, null, null],
    ]);
  });
});

describe('platform-processes: the process table', () => {
  it('gives no details for a pid listed twice (a forged ps line would look like that)', () => {
    const table = processTableFromSi(
      [
        { pid: 10, parentPid: 1, name: 'sshd', command: 'sshd', path: '/usr/sbin', params: '', user: 'root' },
        { pid: 10, parentPid: 1, name: 'fake', command: 'fake', path: '/tmp', params: '', user: 'root' },
        { pid: 11, parentPid: 10, name: 'bash', command: 'bash', path: '/bin', params: '-l', user: 'bob' },
        { pid: Number.NaN, name: 'junk' },
      ],
      'darwin',
    );
    expect(table.has(10)).toBe(false);
    expect(table.get(11)).toMatchObject({ name: 'bash', executable: '/bin/bash', commandLine: '/bin/bash -l', ppid: 10, parentName: null, userName: 'bob' });
  });

  it('re-lists when a pid is unknown or the list is old, not more often than allowed, keeps the last list on failure', async () => {
    let now = 0;
    let calls = 0;
    let fail = false;
    const table = new ProcessTable({
      platform: 'win32',
      now: () => now,
      maxAgeMs: 60_000,
      minIntervalMs: 2_000,
      list: async () => {
        calls++;
        if (fail) throw new Error('PowerShell failed');
        return { list: [{ pid: 7, parentPid: 0, name: 'a.exe', command: 'a.exe', path: '' }] };
      },
    });
    expect((await table.resolve([7])).get(7)?.name).toBe('a.exe');
    expect(calls).toBe(1);
    await table.resolve([7]);
    expect(calls).toBe(1); // known pid, fresh list
    now = 1_000;
    await table.resolve([8]);
    expect(calls).toBe(1); // unknown pid, but listed 1 s ago
    now = 3_000;
    await table.resolve([8]);
    expect(calls).toBe(2);
    fail = true;
    now = 70_000;
    const kept = await table.resolve([7]);
    expect(calls).toBe(3);
    expect(kept.get(7)?.name).toBe('a.exe');
    expect(String(table.lastError)).toContain('PowerShell failed');
    // Windows: a command line that is only the Caption (no CommandLine, no path) is no command line.
    expect(kept.get(7)?.commandLine).toBeNull();
  });

  it('gives up on a hung listing and keeps the previous one', async () => {
    let hang = false;
    let now = 0;
    const table = new ProcessTable({
      platform: 'darwin',
      now: () => now,
      listTimeoutMs: 20,
      list: () => (hang ? new Promise(() => undefined) : Promise.resolve({ list: [{ pid: 3, name: 'x', command: 'x', path: '/bin' }] })),
    });
    await table.resolve([3]);
    hang = true;
    now = 120_000;
    expect((await table.resolve([3])).get(3)?.executable).toBe('/bin/x');
    expect(String(table.lastError)).toContain('no answer after 20 ms');
  });
});
