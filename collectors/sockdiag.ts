// The Linux fast path for the socket table: the sockdiag native addon (collectors/native/sockdiag.c) dumps
// TCP and UDP over NETLINK_SOCK_DIAG into one ArrayBuffer of fixed-size records, decoded here into RawSocket
// rows that match /proc/net/{tcp,tcp6,udp,udp6}. When the addon is missing, loadSockDiag() returns null and
// the collector reads /proc instead.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { SockhuntError } from '../core/errors.js';
import type { RawSocket, SocketState } from './types.js';
import { formatIPv4Bytes, formatIPv6Bytes } from '../core/ip.js';
import { tcpStateName, udpStateName } from './procfs.js';

/** Record layout written by sockdiag.c; see the comment at its top. */
export const RECORD_SIZE = 52;
export const LAYOUT_VERSION = 2;

export interface DumpOptions {
  /** A network namespace file (`/proc/<pid>/ns/net`, `/run/netns/<name>`); the caller's own when absent. */
  netnsPath?: string;
}

export interface SockDiag {
  /** TCP and UDP sockets of both families, as /proc/net/{tcp,tcp6,udp,udp6} would list them. */
  dump(options?: DumpOptions): RawSocket[];
  /** The raw records, for callers that filter before decoding; decode with decodePacked(). */
  dumpPacked(options?: DumpOptions): ArrayBuffer;
}

/** What the native module exports. */
export interface SockDiagBinding {
  dump(netnsPath?: string | null): ArrayBuffer;
  RECORD_SIZE: number;
  LAYOUT_VERSION: number;
}

const AF_INET = 2;
const IPPROTO_TCP = 6;
const TCP_NEW_SYN_RECV = 12;
const TCP_TIME_WAIT = 6;

// The kernel numbers states the same in sock_diag and /proc/net: one mapping for both readers.
function stateName(protocol: number, state: number): SocketState {
  return protocol === IPPROTO_TCP ? tcpStateName(state) : udpStateName(state);
}

export function decodePacked(buffer: ArrayBuffer): RawSocket[] {
  if (buffer.byteLength % RECORD_SIZE !== 0) {
    throw new SockhuntError('SOCKHUNT_E_COLLECT', `sock_diag returned ${buffer.byteLength} bytes, not a whole number of records`);
  }
  const count = buffer.byteLength / RECORD_SIZE;
  const u8 = new Uint8Array(buffer);
  const u16 = new Uint16Array(buffer);
  const u32 = new Uint32Array(buffer);
  const rows: RawSocket[] = new Array(count);
  let requestSockets = 0;
  for (let i = 0; i < count; i++) {
    const o = i * RECORD_SIZE;
    const inet = u8[o] === AF_INET;
    const protocol = u8[o + 1]!;
    const state = u8[o + 2]!;
    if (state === TCP_NEW_SYN_RECV && protocol === IPPROTO_TCP) requestSockets++;
    rows[i] = {
      family: inet ? 'inet' : 'inet6',
      transport: protocol === IPPROTO_TCP ? 'tcp' : 'udp',
      state: stateName(protocol, state),
      localIp: inet ? formatIPv4Bytes(u8, o + 8) : formatIPv6Bytes(u8, o + 8),
      localPort: u16[(o >> 1) + 2]!,
      remoteIp: inet ? formatIPv4Bytes(u8, o + 24) : formatIPv6Bytes(u8, o + 24),
      remotePort: u16[(o >> 1) + 3]!,
      uid: u32[(o >> 2) + 10]!,
      inode: u32[(o >> 2) + 11]!,
    };
    if (state === TCP_TIME_WAIT && protocol === IPPROTO_TCP) rows[i]!.timerMs = u32[(o >> 2) + 12]!;
  }
  if (requestSockets > 0) fillRequestSocketUids(rows, u8);
  return rows;
}

// sock_diag reports uid 0 for request sockets (NEW_SYN_RECV) where /proc/net/tcp shows the uid of the
// listener that owns them: take it from the listener on the same family, port and address (or wildcard).
function fillRequestSocketUids(rows: RawSocket[], u8: Uint8Array): void {
  const listeners = new Map<string, number>();
  for (const r of rows) {
    if (r.transport === 'tcp' && r.state === 'LISTEN') listeners.set(`${r.family} ${r.localIp} ${r.localPort}`, r.uid ?? 0);
  }
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (u8[i * RECORD_SIZE + 2] !== TCP_NEW_SYN_RECV || r.transport !== 'tcp') continue;
    const wildcard = r.family === 'inet' ? '0.0.0.0' : '::';
    const uid =
      listeners.get(`${r.family} ${r.localIp} ${r.localPort}`) ??
      listeners.get(`${r.family} ${wildcard} ${r.localPort}`);
    if (uid !== undefined) r.uid = uid;
  }
}

function isBinding(value: unknown): value is SockDiagBinding {
  const b = value as Partial<SockDiagBinding> | null;
  return typeof b === 'object' && b !== null && typeof b.dump === 'function';
}

function wrap(binding: SockDiagBinding): SockDiag {
  if (binding.RECORD_SIZE !== RECORD_SIZE || binding.LAYOUT_VERSION !== LAYOUT_VERSION) {
    throw new SockhuntError(
      'SOCKHUNT_E_ADDON',
      `the sock_diag addon has record layout v${binding.LAYOUT_VERSION}/${binding.RECORD_SIZE} bytes, ` +
        `this sockhunt expects v${LAYOUT_VERSION}/${RECORD_SIZE} (rebuild it: node scripts/build-addon.mjs)`,
    );
  }
  const dumpPacked = (options?: DumpOptions): ArrayBuffer => {
    try {
      return binding.dump(options?.netnsPath);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new SockhuntError('SOCKHUNT_E_COLLECT', message, { cause: err });
    }
  };
  return { dumpPacked, dump: (options) => decodePacked(dumpPacked(options)) };
}

let current: SockDiag | null | undefined;
let currentBinding: Record<string, unknown> | null = null;
let loadError: SockhuntError | null = null;

/**
 * Hands over an already loaded native module (e.g. one the single-binary packager `process.dlopen`-ed),
 * or null to force the /proc fallback. Replaces whatever loadSockDiag() found.
 */
export function setSockDiagBinding(binding: unknown): void {
  loadError = null;
  if (binding === null) {
    current = null;
    return;
  }
  if (!isBinding(binding)) throw new SockhuntError('SOCKHUNT_E_ADDON', 'setSockDiagBinding: not a sockdiag module (no dump function)');
  current = wrap(binding);
  currentBinding = binding as unknown as Record<string, unknown>;
}

function defaultAddonPath(): string {
  // Both collectors/sockdiag.ts and the bundle dist/cli.mjs sit one level below the project root.
  return fileURLToPath(new URL('../build/Release/sockdiag.node', import.meta.url));
}

function loadNative(path: string): unknown {
  try {
    return createRequire(import.meta.url)(path);
  } catch (err) {
    // Where import.meta.url is unusable (a CommonJS bundle), dlopen the file directly.
    if (typeof import.meta.url === 'string') throw err;
    const mod = { exports: {} as unknown };
    process.dlopen(mod, path);
    return mod.exports;
  }
}

/**
 * The sock_diag fast path, or null when it cannot be used: not Linux, the addon was not built, or it failed to
 * load (see sockDiagLoadError()). `SOCKHUNT_SOCKDIAG_ADDON` names the addon file explicitly. Loaded once.
 */
export function loadSockDiag(): SockDiag | null {
  if (current !== undefined) return current;
  current = null;
  if (process.platform !== 'linux') return null;
  const override = process.env.SOCKHUNT_SOCKDIAG_ADDON;
  let path = override ?? '';
  try {
    if (!override) {
      path = defaultAddonPath();
      if (!existsSync(path)) return null;
    }
    const binding = loadNative(path);
    if (!isBinding(binding)) throw new Error('it exports no dump function');
    current = wrap(binding);
    currentBinding = binding as unknown as Record<string, unknown>;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    loadError =
      err instanceof SockhuntError ? err : new SockhuntError('SOCKHUNT_E_ADDON', `cannot load the sock_diag addon ${path}: ${reason}`, { cause: err });
  }
  return current;
}

/** The loaded native module itself, for its other functions (the DNS tap), or null where there is none. */
export function nativeAddon(): Record<string, unknown> | null {
  loadSockDiag();
  return current ? currentBinding : null;
}

/** Why loadSockDiag() returned null although an addon file was there (or was named), else null. */
export function sockDiagLoadError(): SockhuntError | null {
  return loadError;
}
