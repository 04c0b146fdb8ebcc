import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import dgram from 'node:dgram';
import net from 'node:net';
import {
  RECORD_SIZE,
  LAYOUT_VERSION,
  decodePacked,
  loadSockDiag,
  setSockDiagBinding,
  sockDiagLoadError,
  type SockDiag,
} from '../../collectors/sockdiag.js';
import type { RawSocket } from '../../collectors/types.js';
import { formatIPv6Bytes } from '../../core/ip.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const addonPath = join(root, 'build', 'Release', 'sockdiag.node');
const isLinux = process.platform === 'linux';
const uid = process.getuid?.() ?? -1;

// ---- records as the addon writes them (native byte order) ----

interface Rec {
  family: 2 | 10;
  protocol: 6 | 17;
  state: number;
  sport: number;
  dport: number;
  src: number[];
  dst: number[];
  uid: number;
  inode: number;
  expires?: number;
}

function pack(recs: Rec[]): ArrayBuffer {
  const buf = new ArrayBuffer(recs.length * RECORD_SIZE);
  const u8 = new Uint8Array(buf);
  const u16 = new Uint16Array(buf);
  const u32 = new Uint32Array(buf);
  recs.forEach((r, i) => {
    const o = i * RECORD_SIZE;
    u8.set([r.family, r.protocol, r.state], o);
    u16[o / 2 + 2] = r.sport;
    u16[o / 2 + 3] = r.dport;
    u8.set(r.src, o + 8);
    u8.set(r.dst, o + 24);
    u32[o / 4 + 10] = r.uid;
    u32[o / 4 + 11] = r.inode;
    u32[o / 4 + 12] = r.expires ?? 0;
  });
  return buf;
}

const V4_ANY = [0, 0, 0, 0];
const V6_ANY = new Array<number>(16).fill(0);
const mapped = (a: number, b: number, c: number, d: number) => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d];

function v6Bytes(text: string): Uint8Array {
  const [head = '', tail] = text.split('::');
  const parse = (s: string) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const groups = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return new Uint8Array(groups.flatMap((g) => [g >> 8, g & 0xff]));
}

/** An independent canonicaliser: the WHATWG URL serialiser writes IPv6 in RFC 5952 form. */
function canonicalV6(bytes: Uint8Array): string {
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
  const text = new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
  return /^::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}$/.test(text) ? Array.from(bytes.subarray(12)).join('.') : text;
}

// ---- a minimal, independent reader of /proc/net/{tcp,tcp6,udp,udp6} ----

const PROC_TCP_STATES = ['', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING'];

function procAddress(hex: string): string {
  // Each 32-bit word is printed in host (little-endian) order.
  const bytes = new Uint8Array(hex.length / 2);
  const view = new DataView(bytes.buffer);
  for (let w = 0; w < hex.length / 8; w++) view.setUint32(w * 4, parseInt(hex.slice(w * 8, w * 8 + 8), 16), true);
  return bytes.length === 4 ? Array.from(bytes).join('.') : canonicalV6(bytes);
}

/** Sockets with an inode, keyed by inode. `netDir` is /proc/net or /proc/<pid>/net. */
function readProcNet(netDir = '/proc/net'): Map<number, RawSocket> {
  const out = new Map<number, RawSocket>();
  const tables = [['tcp', 'inet', 'tcp'], ['tcp6', 'inet6', 'tcp'], ['udp', 'inet', 'udp'], ['udp6', 'inet6', 'udp']] as const;
  for (const [file, family, transport] of tables) {
    const path = join(netDir, file);
    if (!existsSync(path)) continue;
    for (const line of readFileSync(path, 'utf8').trim().split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const [localIp = '', localPort = ''] = f[1]!.split(':');
      const [remoteIp = '', remotePort = ''] = f[2]!.split(':');
      const state = parseInt(f[3]!, 16);
      const inode = Number(f[9]);
      if (inode === 0) continue;
      out.set(inode, {
        family,
        transport,
        state: transport === 'tcp' ? (PROC_TCP_STATES[state] as RawSocket['state']) : state === 1 ? 'ESTABLISHED' : 'UNCONNECTED',
        localIp: procAddress(localIp),
        localPort: parseInt(localPort, 16),
        remoteIp: procAddress(remoteIp),
        remotePort: parseInt(remotePort, 16),
        uid: Number(f[7]),
        inode,
      });
    }
  }
  return out;
}

function inodeOfFd(fd: number): number {
  const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
  if (!m) throw new Error(`fd ${fd} is not a socket`);
  return Number(m[1]);
}

const fdOf = (s: net.Socket | net.Server): number => (s as unknown as { _handle: { fd: number } })._handle.fd;

function fdOfUdp(s: dgram.Socket): number {
  const state = Object.getOwnPropertySymbols(s).find((k) => k.description === 'state symbol');
  return (s as unknown as Record<symbol, { handle: { fd: number } }>)[state!]!.handle.fd;
}

function byInode(rows: RawSocket[]): Map<number, RawSocket> {
  return new Map(rows.filter((r) => r.inode !== 0).map((r) => [r.inode, r]));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- tests ----

describe('decodePacked', () => {
  it('maps families, protocols, ports, states and addresses', () => {
    const rows = decodePacked(
      pack([
        { family: 2, protocol: 6, state: 10, sport: 22, dport: 0, src: V4_ANY, dst: V4_ANY, uid: 0, inode: 100 },
        { family: 2, protocol: 6, state: 1, sport: 40000, dport: 443, src: [10, 0, 0, 5], dst: [93, 184, 216, 34], uid: 1000, inode: 101 },
        { family: 10, protocol: 6, state: 10, sport: 8443, dport: 0, src: V6_ANY, dst: V6_ANY, uid: 33, inode: 102 },
        { family: 10, protocol: 6, state: 12, sport: 8443, dport: 5555, src: mapped(127, 0, 0, 1), dst: mapped(127, 0, 0, 1), uid: 0, inode: 0 },
        { family: 10, protocol: 6, state: 6, sport: 1, dport: 2, src: [...v6Bytes('2001:db8::1')], dst: [...v6Bytes('fe80::1:0:0:1')], uid: 0, inode: 0, expires: 41234 },
        { family: 2, protocol: 17, state: 7, sport: 53, dport: 0, src: [127, 0, 0, 53], dst: V4_ANY, uid: 101, inode: 103 },
        { family: 10, protocol: 17, state: 1, sport: 5000, dport: 53, src: [...v6Bytes('::1')], dst: [...v6Bytes('::1')], uid: 1000, inode: 104 },
        { family: 2, protocol: 17, state: 10, sport: 9, dport: 0, src: V4_ANY, dst: V4_ANY, uid: 0, inode: 105 },
      ]),
    );
    expect(rows).toEqual([
      { family: 'inet', transport: 'tcp', state: 'LISTEN', localIp: '0.0.0.0', localPort: 22, remoteIp: '0.0.0.0', remotePort: 0, uid: 0, inode: 100 },
      { family: 'inet', transport: 'tcp', state: 'ESTABLISHED', localIp: '10.0.0.5', localPort: 40000, remoteIp: '93.184.216.34', remotePort: 443, uid: 1000, inode: 101 },
      { family: 'inet6', transport: 'tcp', state: 'LISTEN', localIp: '::', localPort: 8443, remoteIp: '::', remotePort: 0, uid: 33, inode: 102 },
      // a request socket: SYN_RECV as /proc shows it, with its listener's uid
      { family: 'inet6', transport: 'tcp', state: 'SYN_RECV', localIp: '127.0.0.1', localPort: 8443, remoteIp: '127.0.0.1', remotePort: 5555, uid: 33, inode: 0 },
      { family: 'inet6', transport: 'tcp', state: 'TIME_WAIT', localIp: '2001:db8::1', localPort: 1, remoteIp: 'fe80::1:0:0:1', remotePort: 2, uid: 0, inode: 0, timerMs: 41234 },
      { family: 'inet', transport: 'udp', state: 'UNCONNECTED', localIp: '127.0.0.53', localPort: 53, remoteIp: '0.0.0.0', remotePort: 0, uid: 101, inode: 103 },
      { family: 'inet6', transport: 'udp', state: 'ESTABLISHED', localIp: '::1', localPort: 5000, remoteIp: '::1', remotePort: 53, uid: 1000, inode: 104 },
      { family: 'inet', transport: 'udp', state: 'UNCONNECTED', localIp: '0.0.0.0', localPort: 9, remoteIp: '0.0.0.0', remotePort: 0, uid: 0, inode: 105 },
    ]);
  });

  it('names every TCP state by the kernel numbering', () => {
    const names = ['ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING', 'SYN_RECV', 'UNKNOWN'];
    const rows = decodePacked(
      pack(names.map((_, i) => ({ family: 2, protocol: 6, state: i + 1, sport: 1, dport: 2, src: V4_ANY, dst: V4_ANY, uid: 0, inode: 0 }))),
    );
    expect(rows.map((r) => r.state)).toEqual(names);
  });

  it('rejects a buffer that is not whole records', () => {
    expect(() => decodePacked(new ArrayBuffer(RECORD_SIZE + 1))).toThrow(expect.objectContaining({ code: 'SOCKHUNT_E_COLLECT' }));
    expect(decodePacked(new ArrayBuffer(0))).toEqual([]);
  });
});

describe('formatIPv6Bytes', () => {
  it.each([
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:DB8:0:0:0:0:2:1', '2001:db8::2:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // one zero group stays
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // the first of equal runs
    ['fe80::a00:27ff:fe4e:66a1', 'fe80::a00:27ff:fe4e:66a1'],
    ['::ffff:192.0.2.128', '192.0.2.128'], // IPv4-mapped shown as IPv4
    ['::ffff:0:0', '0.0.0.0'],
    ['::1:ffff:c000:280', '::1:ffff:c000:280'], // not mapped
    ['64:ff9b::c000:280', '64:ff9b::c000:280'],
  ])('%s → %s', (input, expected) => {
    const bytes = input.includes('.')
      ? new Uint8Array([...v6Bytes('::ffff:0:0').subarray(0, 12), ...input.split(':').pop()!.split('.').map(Number)])
      : v6Bytes(input.toLowerCase());
    expect(formatIPv6Bytes(bytes, 0)).toBe(expected);
  });

  it('agrees with the WHATWG URL serialiser on random addresses rich in zero groups', () => {
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const bytes = new Uint8Array(16);
    for (let n = 0; n < 20_000; n++) {
      for (let i = 0; i < 8; i++) {
        const r = next();
        const g = r < 0.5 ? 0 : r < 0.6 ? 0xffff : Math.floor(next() * 0x10000);
        bytes[2 * i] = g >> 8;
        bytes[2 * i + 1] = g & 0xff;
      }
      const expected = canonicalV6(bytes);
      if (formatIPv6Bytes(bytes, 0) !== expected) expect(formatIPv6Bytes(bytes, 0)).toBe(expected);
    }
  });
});

describe.skipIf(!isLinux)('sock_diag addon on live sockets', () => {
  let sd: SockDiag;
  const closers: Array<() => void> = [];
  const expected: RawSocket[] = [];

  async function listen(host: string, ipv6Only = false): Promise<net.Server> {
    const server = net.createServer();
    server.listen({ host, port: 0, ipv6Only });
    await once(server, 'listening');
    closers.push(() => server.close());
    return server;
  }

  async function connectPair(server: net.Server, host: string): Promise<{ client: net.Socket; accepted: net.Socket }> {
    const port = (server.address() as net.AddressInfo).port;
    const acceptedP = once(server, 'connection') as Promise<[net.Socket]>;
    const client = net.connect({ host, port });
    await once(client, 'connect');
    const [accepted] = await acceptedP;
    closers.push(() => client.destroy(), () => accepted.destroy());
    return { client, accepted };
  }

  function expectTcp(sock: net.Socket | net.Server, family: 'inet' | 'inet6', fields: Partial<RawSocket>): void {
    expected.push({ family, transport: 'tcp', remoteIp: family === 'inet' ? '0.0.0.0' : '::', remotePort: 0, uid, inode: inodeOfFd(fdOf(sock)), ...fields } as RawSocket);
  }

  beforeAll(async () => {
    if (!existsSync(addonPath)) execFileSync(process.execPath, ['scripts/build-addon.mjs'], { cwd: root, stdio: 'inherit' });
    const loaded = loadSockDiag();
    if (!loaded) throw new Error(`the sock_diag addon is not available: ${sockDiagLoadError()?.message ?? 'it did not build'}`);
    sd = loaded;

    for (const [host, family] of [['127.0.0.1', 'inet'], ['::1', 'inet6']] as const) {
      const server = await listen(host, family === 'inet6');
      const port = (server.address() as net.AddressInfo).port;
      const { client, accepted } = await connectPair(server, host);
      expectTcp(server, family, { state: 'LISTEN', localIp: host, localPort: port });
      expectTcp(client, family, { state: 'ESTABLISHED', localIp: host, localPort: client.localPort!, remoteIp: host, remotePort: port });
      expectTcp(accepted, family, { state: 'ESTABLISHED', localIp: host, localPort: port, remoteIp: host, remotePort: client.localPort! });
    }

    // An IPv4 client of a dual-stack listener: the accepted socket is AF_INET6 with ::ffff:127.0.0.1.
    const dual = await listen('::');
    const dualPort = (dual.address() as net.AddressInfo).port;
    const { client, accepted } = await connectPair(dual, '127.0.0.1');
    expectTcp(dual, 'inet6', { state: 'LISTEN', localIp: '::', localPort: dualPort });
    expectTcp(client, 'inet', { state: 'ESTABLISHED', localIp: '127.0.0.1', localPort: client.localPort!, remoteIp: '127.0.0.1', remotePort: dualPort });
    expectTcp(accepted, 'inet6', { state: 'ESTABLISHED', localIp: '127.0.0.1', localPort: dualPort, remoteIp: '127.0.0.1', remotePort: client.localPort! });

    for (const [type, host, family, any] of [['udp4', '127.0.0.1', 'inet', '0.0.0.0'], ['udp6', '::1', 'inet6', '::']] as const) {
      const unconnected = dgram.createSocket(type);
      unconnected.bind(0, host);
      await once(unconnected, 'listening');
      const connected = dgram.createSocket(type);
      connected.bind(0, host);
      await once(connected, 'listening');
      connected.connect(unconnected.address().port, host);
      await once(connected, 'connect');
      closers.push(() => unconnected.close(), () => connected.close());
      expected.push(
        { family, transport: 'udp', state: 'UNCONNECTED', localIp: host, localPort: unconnected.address().port, remoteIp: any, remotePort: 0, uid, inode: inodeOfFd(fdOfUdp(unconnected)) },
        { family, transport: 'udp', state: 'ESTABLISHED', localIp: host, localPort: connected.address().port, remoteIp: host, remotePort: unconnected.address().port, uid, inode: inodeOfFd(fdOfUdp(connected)) },
      );
    }
  });

  afterAll(() => {
    for (const close of closers.reverse()) close();
  });

  it('reports each of our TCP and UDP sockets with its ports, state, addresses, uid and inode', () => {
    const rows = byInode(sd.dump());
    for (const want of expected) expect(rows.get(want.inode), `${want.transport} ${want.localIp}:${want.localPort}`).toEqual(want);
  });

  it('lists the same sockets as /proc/net/{tcp,tcp6,udp,udp6}', () => {
    const before = readProcNet();
    const dumped = byInode(sd.dump());
    const after = readProcNet();
    for (const inode of dumped.keys()) expect(before.has(inode) || after.has(inode), `inode ${inode} is in /proc/net`).toBe(true);
    let compared = 0;
    for (const [inode, row] of before) {
      // Sockets that changed between the reads (other test files share this machine) prove nothing.
      if (JSON.stringify(after.get(inode)) !== JSON.stringify(row)) continue;
      expect(dumped.get(inode)).toEqual(row);
      compared++;
    }
    expect(compared).toBeGreaterThanOrEqual(expected.length);
  });

  it('reports a TIME_WAIT socket with inode 0', async () => {
    const server = await listen('127.0.0.1');
    const serverPort = (server.address() as net.AddressInfo).port;
    const { client, accepted } = await connectPair(server, '127.0.0.1');
    const clientPort = client.localPort!;
    accepted.on('end', () => accepted.end());
    const closed = Promise.all([once(client, 'close'), once(accepted, 'close')]);
    client.end(); // the side that closes first ends in TIME_WAIT
    await closed;
    let row: RawSocket | undefined;
    for (let attempt = 0; attempt < 100 && row?.state !== 'TIME_WAIT'; attempt++) {
      if (attempt > 0) await sleep(20);
      row = sd.dump().find((r) => r.transport === 'tcp' && r.localPort === clientPort && r.remotePort === serverPort);
    }
    expect(row).toEqual({
      family: 'inet', transport: 'tcp', state: 'TIME_WAIT', localIp: '127.0.0.1', localPort: clientPort,
      remoteIp: '127.0.0.1', remotePort: serverPort, uid: 0, inode: 0, timerMs: expect.any(Number),
    });
    // The TIME_WAIT timer started at 60 s when the connection closed, moments ago.
    expect(row!.timerMs).toBeGreaterThan(30_000);
    expect(row!.timerMs).toBeLessThanOrEqual(60_000);
  });

  it('throws SOCKHUNT_E_COLLECT for a bad netnsPath', () => {
    expect(() => sd.dump({ netnsPath: '/nonexistent/ns/net' })).toThrow(
      expect.objectContaining({ code: 'SOCKHUNT_E_COLLECT', message: expect.stringContaining('/nonexistent/ns/net') }),
    );
    expect(() => sd.dump({ netnsPath: '/etc/hostname' })).toThrow(
      expect.objectContaining({ code: 'SOCKHUNT_E_COLLECT', message: expect.stringMatching(/\/etc\/hostname is not a network namespace/) }),
    );
    expect(() => sd.dump({ netnsPath: 42 as unknown as string })).toThrow(expect.objectContaining({ code: 'SOCKHUNT_E_COLLECT' }));
  });

  const canMakeNetns = uid === 0 && ['unshare', 'nsenter', 'ip'].every((tool) => spawnSync('which', [tool]).status === 0);

  describe.skipIf(!canMakeNetns)('in another network namespace', () => {
    const children: ChildProcess[] = [];
    let nsPath = '';
    let inside: { tcpPort: number; tcpInode: number; udpPort: number; udpInode: number };

    async function firstLine(child: ChildProcess): Promise<string> {
      let out = '';
      for await (const chunk of child.stdout!) {
        out += String(chunk);
        if (out.includes('\n')) return out.slice(0, out.indexOf('\n'));
      }
      throw new Error(`child ${child.pid} exited without output`);
    }

    beforeAll(async () => {
      const holder = spawn('unshare', ['-n', 'sh', '-c', 'ip link set lo up && echo ready && exec sleep 60'], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(holder);
      expect(await firstLine(holder)).toBe('ready');
      nsPath = `/proc/${holder.pid}/ns/net`;
      const script = `
        const net = require('node:net'), dgram = require('node:dgram'), fs = require('node:fs');
        const inode = (fd) => Number(/\\d+/.exec(fs.readlinkSync('/proc/self/fd/' + fd))[0]);
        const server = net.createServer().listen(0, '127.0.0.1', () => {
          const udp = dgram.createSocket('udp4').bind(0, '127.0.0.1', () => {
            const udpFd = udp[Object.getOwnPropertySymbols(udp).find((k) => k.description === 'state symbol')].handle.fd;
            console.log(JSON.stringify({ tcpPort: server.address().port, tcpInode: inode(server._handle.fd), udpPort: udp.address().port, udpInode: inode(udpFd) }));
          });
        });
        process.stdin.on('end', () => process.exit(0)).resume();`;
      const listener = spawn('nsenter', [`--net=${nsPath}`, process.execPath, '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
      children.push(listener);
      inside = JSON.parse(await firstLine(listener)) as typeof inside;
    });

    afterAll(() => {
      for (const child of children) if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    });

    it('dumps the sockets of the namespace at netnsPath, and only there', () => {
      const there = byInode(sd.dump({ netnsPath: nsPath }));
      expect(there.get(inside.tcpInode)).toEqual({
        family: 'inet', transport: 'tcp', state: 'LISTEN', localIp: '127.0.0.1', localPort: inside.tcpPort, remoteIp: '0.0.0.0', remotePort: 0, uid: 0, inode: inside.tcpInode,
      });
      expect(there.get(inside.udpInode)).toMatchObject({ transport: 'udp', state: 'UNCONNECTED', localIp: '127.0.0.1', localPort: inside.udpPort });
      // the namespace's own /proc view agrees (nothing else runs in it)
      expect(there).toEqual(readProcNet(`/proc/${children[0]!.pid}/net`));

      const here = byInode(sd.dump());
      expect(here.has(inside.tcpInode)).toBe(false);
      expect(here.has(inside.udpInode)).toBe(false);
    });
  });
});

describe.skipIf(!isLinux)('loading the addon', () => {
  it('accepts a binding handed over by the packager, or null to force the /proc fallback', () => {
    const fake = { RECORD_SIZE, LAYOUT_VERSION, dump: () => pack([{ family: 2, protocol: 17, state: 7, sport: 53, dport: 0, src: [127, 0, 0, 1], dst: V4_ANY, uid: 0, inode: 7 }]) };
    setSockDiagBinding(fake);
    expect(loadSockDiag()!.dump()).toMatchObject([{ transport: 'udp', localIp: '127.0.0.1', localPort: 53, inode: 7 }]);
    setSockDiagBinding(null);
    expect(loadSockDiag()).toBeNull();
    expect(() => setSockDiagBinding({ RECORD_SIZE: 40, LAYOUT_VERSION, dump: fake.dump })).toThrow(expect.objectContaining({ code: 'SOCKHUNT_E_ADDON' }));
    expect(() => setSockDiagBinding({})).toThrow(expect.objectContaining({ code: 'SOCKHUNT_E_ADDON' }));
    if (existsSync(addonPath)) {
      setSockDiagBinding(createRequire(import.meta.url)(addonPath));
      expect(loadSockDiag()!.dump().length).toBeGreaterThan(0);
    }
  });

  it('loads the file named by SOCKHUNT_SOCKDIAG_ADDON, and reports why a bad one failed', async () => {
    const saved = process.env.SOCKHUNT_SOCKDIAG_ADDON;
    try {
      process.env.SOCKHUNT_SOCKDIAG_ADDON = '/nonexistent/sockdiag.node';
      vi.resetModules();
      let mod = await import('../../collectors/sockdiag.js');
      expect(mod.loadSockDiag()).toBeNull();
      expect(mod.sockDiagLoadError()).toMatchObject({ code: 'SOCKHUNT_E_ADDON', message: expect.stringContaining('/nonexistent/sockdiag.node') });

      if (existsSync(addonPath)) {
        process.env.SOCKHUNT_SOCKDIAG_ADDON = addonPath;
        vi.resetModules();
        mod = await import('../../collectors/sockdiag.js');
        expect(mod.loadSockDiag()).not.toBeNull();
        expect(mod.sockDiagLoadError()).toBeNull();
      }
    } finally {
      if (saved === undefined) delete process.env.SOCKHUNT_SOCKDIAG_ADDON;
      else process.env.SOCKHUNT_SOCKDIAG_ADDON = saved;
      vi.resetModules();
    }
  });
});
