// Recent flows from the kernel's connection tracking table (/proc/net/nf_conntrack). Where a firewall has
// conntrack active, it keeps flows for seconds to minutes after their sockets are gone: the trace that a
// 100 ms beacon connection or a one-packet DNS query leaves behind. It names no process.
import type { Transport } from './types.js';
import { formatIPv6Bytes } from '../core/ip.js';
import { type ProcReader, fsProcReader } from './procfs.js';

export interface ConntrackFlow {
  transport: Transport;
  family: 'inet' | 'inet6';
  /** The original direction: who sent the first packet. */
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
  /** TCP state as conntrack names it (ESTABLISHED, TIME_WAIT, SYN_SENT, CLOSE…); UDP has none. */
  state: string | null;
  /** No packet came back (a scan that got no answer, a query to a dead server). */
  unreplied: boolean;
}

const scratch = new Uint8Array(16);

function normaliseIp(text: string): string {
  if (!text.includes(':')) return text;
  // conntrack prints IPv6 uncompressed (2001:0db8:0000:…); reuse the RFC 5952 formatter.
  const groups = text.split(':');
  if (groups.length !== 8) return text;
  for (let i = 0; i < 8; i++) {
    const v = parseInt(groups[i]!, 16);
    scratch[i * 2] = (v >> 8) & 0xff;
    scratch[i * 2 + 1] = v & 0xff;
  }
  return formatIPv6Bytes(scratch, 0);
}

export function parseConntrack(text: string): ConntrackFlow[] {
  const flows: ConntrackFlow[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const proto = f[2];
    if (proto !== 'tcp' && proto !== 'udp') continue;
    const kv: Record<string, string> = {};
    let state: string | null = null;
    let unreplied = false;
    for (let i = 5; i < f.length; i++) {
      const tok = f[i]!;
      const eq = tok.indexOf('=');
      if (eq < 0) {
        if (tok === '[UNREPLIED]') unreplied = true;
        else if (/^[A-Z_]+$/.test(tok) && state === null && Object.keys(kv).length === 0) state = tok;
        continue;
      }
      const k = tok.slice(0, eq);
      if (!(k in kv)) kv[k] = tok.slice(eq + 1); // the first src/dst/sport/dport are the original direction
    }
    const srcPort = Number(kv.sport);
    const dstPort = Number(kv.dport);
    if (!kv.src || !kv.dst || !Number.isInteger(srcPort) || !Number.isInteger(dstPort)) continue;
    flows.push({
      transport: proto,
      family: f[0] === 'ipv6' ? 'inet6' : 'inet',
      srcIp: normaliseIp(kv.src),
      srcPort,
      dstIp: normaliseIp(kv.dst),
      dstPort,
      state,
      unreplied,
    });
  }
  return flows;
}

/** Reads the table of the reader's network namespace; null when conntrack is not available here. */
export function readConntrack(reader: ProcReader = fsProcReader, path = '/proc/net/nf_conntrack'): ConntrackFlow[] | null {
  const text = reader.readText(path);
  return text === null ? null : parseConntrack(text);
}
