// Connection rows (collectors/types.ts) built from a few fields: one builder, `row`, whose defaults are a curl to
// 203.0.113.10:443 on test-host; `conn` is the same builder with the detector tests' defaults (and vocabulary).
import type { Connection, Family, SocketState, Transport } from '../../collectors/types.js';

/** The fixed "now" of the detector fixtures: 2026-11-28 12:00:00 UTC. */
export const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);

/** A process name full of terminal escapes, newlines and a bidi override. */
export const HOSTILE = 'evil\x1b]0;pwned\x07\x1b[31mred\nRisk Level: Low\u202Etxt.exe';

export interface RowSpec {
  /** '@timestamp': ms since the epoch or an ISO string (default 2026-11-28T10:00:00.000Z). */
  ts?: number | string;
  hostName?: string;
  /** host.id; none by default. */
  hostId?: string;
  pid?: number | null;
  name?: string | null;
  executable?: string | null;
  commandLine?: string | null;
  ppid?: number | null;
  parentName?: string | null;
  user?: string | null;
  uid?: string | null;
  srcIp?: string;
  srcPort?: number;
  dstIp?: string;
  dstPort?: number;
  transport?: Transport;
  state?: SocketState;
  inode?: number;
  /** Default: egress, none for a LISTEN socket; null: none. */
  direction?: 'egress' | 'ingress' | null;
  /** Default: by the destination address (an IPv4-mapped socket says inet6 with IPv4 addresses). */
  family?: Family;
  /** Default: [pid], none when pid is null. */
  ownerPids?: number[];
}

/** `value` unless the spec left it undefined (null stays null). */
const or = <T>(value: T | undefined, fallback: T): T => (value === undefined ? fallback : value);

export function row(spec: RowSpec = {}): Connection {
  const dstIp = spec.dstIp ?? '203.0.113.10';
  const v6 = dstIp.includes(':');
  const pid = or(spec.pid, 1234);
  const state = spec.state ?? 'ESTABLISHED';
  const direction = spec.direction === undefined ? (state === 'LISTEN' ? null : 'egress') : spec.direction;
  const ts = spec.ts ?? '2026-11-28T10:00:00.000Z';
  return {
    '@timestamp': typeof ts === 'number' ? new Date(ts).toISOString() : ts,
    host: { name: spec.hostName ?? 'test-host', ...(spec.hostId !== undefined ? { id: spec.hostId } : {}) },
    process: {
      pid,
      name: or(spec.name, 'curl'),
      executable: or(spec.executable, '/usr/bin/curl'),
      command_line: or(spec.commandLine, 'curl https://example.com'),
      parent: { pid: or(spec.ppid, 1), name: or(spec.parentName, 'systemd') },
    },
    user: { name: or(spec.user, 'root'), id: or(spec.uid, '0') },
    source: { ip: spec.srcIp ?? (v6 ? '2001:db8:ffff::2' : '192.0.2.2'), port: spec.srcPort ?? 40000 },
    destination: { ip: dstIp, port: spec.dstPort ?? 443 },
    network: { transport: spec.transport ?? 'tcp', type: v6 ? 'ipv6' : 'ipv4', ...(direction ? { direction } : {}) },
    socket: { state, inode: spec.inode ?? 1000, family: spec.family ?? (v6 ? 'inet6' : 'inet'), owner_pids: spec.ownerPids ?? (pid === null ? [] : [pid]) },
  };
}

/** The detector tests' row: alice's curl (pid 4242) on web-01 to 93.184.216.34:443 at NOW, each with a new inode. */
export interface ConnSpec {
  pid?: number | null;
  name?: string | null;
  exe?: string | null;
  cmd?: string | null;
  ppid?: number | null;
  pname?: string | null;
  user?: string | null;
  uid?: string | null;
  ip?: string;
  port?: number;
  transport?: Transport;
  state?: SocketState;
  direction?: 'egress' | 'ingress' | null;
  srcPort?: number;
  inode?: number;
  ts?: number;
}

let nextInode = 1000;

export function conn(s: ConnSpec = {}): Connection {
  const ip = s.ip ?? '93.184.216.34';
  const counter = nextInode;
  const inode = s.inode ?? nextInode++;
  return row({
    ts: s.ts ?? NOW,
    hostName: 'web-01',
    hostId: 'host-uuid',
    pid: or(s.pid, 4242),
    name: or(s.name, 'curl'),
    executable: or(s.exe, '/usr/bin/curl'),
    commandLine: or(s.cmd, 'curl https://example.org/'),
    ppid: or(s.ppid, 1),
    parentName: or(s.pname, 'bash'),
    user: or(s.user, 'alice'),
    uid: or(s.uid, '1000'),
    srcIp: ip.includes(':') ? '2001:db8::10' : '10.0.0.10',
    srcPort: s.srcPort ?? 40000 + (counter % 20000),
    dstIp: ip,
    dstPort: s.port ?? 443,
    transport: s.transport ?? 'tcp',
    state: s.state ?? 'ESTABLISHED',
    direction: or(s.direction, 'egress'),
    inode,
  });
}
