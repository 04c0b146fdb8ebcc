// Pure mapping from what platform tools print (Windows/macOS/Linux `netstat`, as split by systeminformation or
// node-netstat) to RawSocket and Connection rows. No I/O here: the collectors feed it, the tests check it on
// captured outputs.
import type { Connection, Family, ProcessInfo, RawSocket, SocketState, TcpState, Transport } from './types.js';
import { TCP_STATES } from './types.js';
import { canonicalIp, ipType, isUnspecified } from '../core/ip.js';
import { directionOf, listenerIndex, type ListenerIndex } from './direction.js';

/** One endpoint as a tool prints it, split into host and port text (`*` allowed for both). */
export interface EndpointText {
  host: string;
  port: string;
}

/** One socket row as a platform tool reports it, before normalisation. */
export interface PlatformRow {
  /** `tcp`, `tcp4`, `tcp6`, `tcp46`, `udp`…, any case (Windows prints `TCP`). */
  protocol: string;
  local: EndpointText;
  remote: EndpointText;
  /** The state word as printed (Windows `LISTENING`, ss `ESTAB`, BSD `SYN_RCVD`…); null/empty for UDP. */
  state: string | null | undefined;
  /** Owning pid as the tool reports it; anything but a positive integer means "not known". */
  pid: unknown;
  processName?: string | null;
}

const STATE_ALIASES: Record<string, TcpState> = {
  LISTENING: 'LISTEN', // Windows
  ESTAB: 'ESTABLISHED', // ss
  SYN_RECEIVED: 'SYN_RECV', // Windows
  SYN_RCVD: 'SYN_RECV', // BSD / macOS
  FIN_WAIT_1: 'FIN_WAIT1', // Windows, BSD
  FIN_WAIT_2: 'FIN_WAIT2',
  CLOSED: 'CLOSE', // Windows, BSD
};

/**
 * The kernel's TCP state names (DESIGN.md). UDP has no state on these platforms: it is ESTABLISHED when the
 * socket has a remote end, UNCONNECTED otherwise, whatever the tool printed (Windows prints nothing,
 * systeminformation on macOS `UNKNOWN`, node-netstat on Linux null).
 */
export function normalizeState(text: string | null | undefined, transport: Transport, connected: boolean): SocketState {
  if (transport === 'udp') return connected ? 'ESTABLISHED' : 'UNCONNECTED';
  const word = (text ?? '').trim().toUpperCase().replace(/-/g, '_');
  const alias = STATE_ALIASES[word];
  if (alias) return alias;
  return (TCP_STATES as readonly string[]).includes(word) ? (word as TcpState) : 'UNKNOWN';
}

/** `tcp4` → tcp, `UDP` → udp; anything else (header words, `mptcp`, garbage) → null. */
export function transportOf(protocol: string): Transport | null {
  const m = /^(tcp|udp)(4|6|46)?$/i.exec(protocol.trim());
  return m ? (m[1]!.toLowerCase() as Transport) : null;
}

/** The family a protocol word states (`tcp6`, `udp46` → inet6; `tcp4` → inet); plain `tcp`/`udp` → null. */
export function familyOfProtocol(protocol: string): Family | null {
  const m = /^(?:tcp|udp)(4|6|46)$/i.exec(protocol.trim());
  if (!m) return null;
  return m[1] === '4' ? 'inet' : 'inet6';
}

/**
 * Splits `host:port` (Windows, Linux: `0.0.0.0:135`, `[::1]:5353`, `[fe80::1%9]:1900`, `:::22`, `*:*`)
 * or `host.port` (macOS/BSD: `10.0.0.1.443`, `*.80`, `*.*`, `fe80::1%lo0.5353`). Null when there is no separator.
 */
export function splitEndpoint(token: string, style: 'colon' | 'dot'): EndpointText | null {
  const t = token.trim();
  if (style === 'colon' && t.startsWith('[')) {
    const m = /^\[([^\]]*)\](%[^:]*)?:([^:]*)$/.exec(t);
    return m ? { host: m[1]!, port: m[3]! } : null;
  }
  const at = t.lastIndexOf(style === 'colon' ? ':' : '.');
  if (at < 0) return null;
  return { host: t.slice(0, at), port: t.slice(at + 1) };
}

/** `*` or empty → 0 (no port yet); a decimal 0–65535 → that number; anything else → null. */
export function parsePort(text: string | number | null | undefined): number | null {
  const t = String(text ?? '').trim();
  if (t === '*' || t === '') return 0;
  if (!/^\d{1,5}$/.test(t)) return null;
  const n = Number(t);
  return n <= 65535 ? n : null;
}

/** A positive integer pid, else null (node-netstat's NaN and 0, systeminformation's null, Windows pid 0). */
export function normalizePid(value: unknown): number | null {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** The family the printed host belongs to, or null when the text does not say (`*`, empty). */
export function familyOfHost(host: string): Family | null {
  const h = stripDecorations(host);
  if (h === '*' || h === '') return null;
  return h.includes(':') ? 'inet6' : 'inet';
}

/**
 * Normalises a printed host: brackets and zone ids dropped, `*`/empty → the family's wildcard, else the
 * canonical address text (core/ip.ts: IPv4-mapped IPv6 → dotted IPv4, IPv6 in RFC 5952 form). Null when
 * the result is not an IP address (truncated by the tool, a header word, garbage).
 */
export function normalizeHost(host: string, family: Family): string | null {
  const h = stripDecorations(host);
  if (h === '*' || h === '') return family === 'inet6' ? '::' : '0.0.0.0';
  return canonicalIp(h);
}

function stripDecorations(host: string): string {
  let h = host.trim();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  const zone = h.indexOf('%');
  return zone >= 0 ? h.slice(0, zone) : h;
}

/**
 * net-tools `netstat` without `-W` cuts `address:port` to 23 characters (it shortens the address so that address
 * and port fit 22). A printed IPv6 token of 23 characters may therefore hold a cut address that still looks valid.
 */
export function mayBeCutByNetTools(host: string, port: string): boolean {
  return host.includes(':') && !host.startsWith('[') && host.length + 1 + port.length >= 23;
}

export type RowProblem = 'protocol' | 'address' | 'port';

/** Normalises one platform row, or says why it cannot be read. */
export function toRawSocket(row: PlatformRow): RawSocket | RowProblem {
  const transport = transportOf(row.protocol);
  if (!transport) return 'protocol';
  const family = familyOfProtocol(row.protocol) ?? familyOfHost(row.local.host) ?? familyOfHost(row.remote.host) ?? 'inet';
  const localIp = normalizeHost(row.local.host, family);
  const remoteIp = normalizeHost(row.remote.host, family);
  if (localIp === null || remoteIp === null) return 'address';
  const localPort = parsePort(row.local.port);
  const remotePort = parsePort(row.remote.port);
  if (localPort === null || remotePort === null) return 'port';
  const connected = remotePort !== 0 && !isUnspecified(remoteIp);
  const name = row.processName?.trim();
  return {
    family,
    transport,
    state: normalizeState(row.state, transport, connected),
    localIp,
    localPort,
    remoteIp,
    remotePort,
    uid: null,
    inode: 0,
    pid: normalizePid(row.pid),
    processName: name ? name : null,
  };
}

export interface RowContext {
  hostName: string;
  timestamp: string;
  /** Process details by pid; a pid missing here keeps `process.pid` (the table reported it) with null details. */
  owners: ReadonlyMap<number, ProcessInfo>;
}

/** Builds the Connection rows of one sample (directions need the whole table). */
export function toConnections(sockets: RawSocket[], ctx: RowContext): Connection[] {
  const listeners = listenerIndex(sockets);
  return sockets.map((s) => toConnection(s, listeners, ctx));
}

function toConnection(s: RawSocket, listeners: ListenerIndex, ctx: RowContext): Connection {
  const pid = s.pid ?? null;
  const owner = pid !== null ? (ctx.owners.get(pid) ?? null) : null;
  const row: Connection = {
    '@timestamp': ctx.timestamp,
    host: { name: ctx.hostName },
    process: {
      pid,
      name: owner?.name ?? (pid !== null ? baseName(s.processName ?? null) : null),
      executable: owner?.executable ?? null,
      command_line: owner?.commandLine ?? null,
      parent: { pid: owner?.ppid ?? null, name: owner?.parentName ?? null },
    },
    user: { name: owner?.userName ?? null, id: owner?.uid != null ? String(owner.uid) : null },
    source: { ip: s.localIp, port: s.localPort },
    destination: { ip: s.remoteIp, port: s.remotePort },
    network: { transport: s.transport, type: ipType(s.localIp) },
    socket: { state: s.state, inode: s.inode, family: s.family, owner_pids: pid !== null ? [pid] : [] },
  };
  const direction = directionOf(s, listeners);
  if (direction) row.network.direction = direction;
  return row;
}

/** Last path element of a name a tool printed as a path (`/usr/sbin/mDNSResponder`, `C:\x\y.exe`). */
export function baseName(text: string | null): string | null {
  if (!text) return null;
  const parts = text.split(/[\\/]/);
  const last = parts[parts.length - 1]!.trim();
  return last === '' ? null : last;
}
