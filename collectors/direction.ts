// Direction of a socket from the table it is in: the same rule for every collector.
import type { RawSocket } from './types.js';
import { isUnspecified } from '../core/ip.js';

export type ListenerIndex = Map<number, Set<string>>;

/** Local endpoints that accept connections: TCP listeners (the same rule as the Linux collector). */
export function listenerIndex(sockets: RawSocket[]): ListenerIndex {
  const map: ListenerIndex = new Map();
  for (const s of sockets) {
    if (s.transport !== 'tcp' || s.state !== 'LISTEN') continue;
    let ips = map.get(s.localPort);
    if (!ips) map.set(s.localPort, (ips = new Set()));
    ips.add(s.localIp);
  }
  return map;
}

/**
 * egress for sockets this host initiated, ingress for accepted ones (local port of a TCP listener on the same or a
 * wildcard address), none for listeners and unconnected UDP. Connected UDP has no listener to match: egress.
 */
export function directionOf(s: RawSocket, listeners: ListenerIndex): 'egress' | 'ingress' | undefined {
  if (s.state === 'LISTEN' || s.state === 'UNCONNECTED') return undefined;
  if (s.transport === 'udp') return 'egress';
  if (s.state === 'SYN_RECV') return 'ingress';
  if (s.state === 'CLOSE' && isUnspecified(s.remoteIp) && s.remotePort === 0) return undefined; // bound, never connected
  const ips = listeners.get(s.localPort);
  const accepted = ips !== undefined && (ips.has(s.localIp) || ips.has('0.0.0.0') || ips.has('::'));
  return accepted ? 'ingress' : 'egress';
}
