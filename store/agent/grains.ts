// What counts as a destination, and the text of each grain the baseline keeps for it. The same text is the
// database value, the export value and the in-memory lookup key, so there is one definition of each.
import type { Connection, Transport } from '../../collectors/types.js';
import { canonicalIp, isLoopback, isUnspecified, networkOf, tryParseCidr } from '../../core/ip.js';

export const GRAINS = ['endpoint', 'network', 'port', 'domain'] as const;
export type Grain = (typeof GRAINS)[number];

export interface Destination {
  /** Canonical address text. */
  ip: string;
  port: number;
  transport: Transport;
}

/**
 * The remote end of a connection this host initiated, or null: listeners, unconnected UDP, accepted
 * (ingress) sockets and sockets without a usable remote address are not destinations.
 */
export function destinationOf(row: Connection): Destination | null {
  const state = row.socket.state;
  if (state === 'LISTEN' || state === 'UNCONNECTED' || state === 'SYN_RECV' || state === 'NEW_SYN_RECV') return null;
  if (row.network.direction === 'ingress') return null;
  const port = row.destination.port;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return null;
  const ip = canonicalIp(row.destination.ip);
  if (ip === null || isUnspecified(ip)) return null;
  return { ip, port, transport: row.network.transport };
}

export { isLoopback };

export function endpointValue(ip: string, port: number, transport: Transport): string {
  return ip.includes(':') ? `[${ip}]:${port}/${transport}` : `${ip}:${port}/${transport}`;
}

export function portValue(port: number, transport: Transport): string {
  return `${port}/${transport}`;
}

export function networkValue(ip: string): string | null {
  return networkOf(ip);
}

/** Lower case, no trailing dot; null for text that is not a plausible DNS name. */
export function domainValue(domain: string): string | null {
  const d = domain.trim().toLowerCase().replace(/\.$/, '');
  if (d.length === 0 || d.length > 253 || !/^[a-z0-9_*-]+(\.[a-z0-9_-]+)*$/.test(d)) return null;
  return d;
}

/** The canonical text of a grain value from an untrusted source (an imported file), or null when invalid. */
export function canonicalGrainValue(grain: Grain, value: string): string | null {
  switch (grain) {
    case 'endpoint': {
      const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})\/(tcp|udp)$/.exec(value);
      if (!m) return null;
      const ip = canonicalIp(m[1] ?? m[2] ?? '');
      const port = Number(m[3]);
      if (ip === null || port < 1 || port > 65535) return null;
      return endpointValue(ip, port, m[4] as Transport);
    }
    case 'network': {
      const cidr = tryParseCidr(value);
      if (!cidr || cidr.prefix !== (cidr.version === 4 ? 24 : 48)) return null;
      const slash = value.indexOf('/');
      return networkOf(value.slice(0, slash));
    }
    case 'port': {
      const m = /^(\d{1,5})\/(tcp|udp)$/.exec(value);
      const port = Number(m?.[1]);
      if (!m || port < 1 || port > 65535) return null;
      return portValue(port, m[2] as Transport);
    }
    case 'domain':
      return domainValue(value);
  }
}
