// Direction of a socket from the table it is in: the same rule for every collector.
import type { RawSocket } from './types.js';
import { isUnspecified } from './ip.js';

function listenKey(ip: string, port: number): string {
  return `${ip}|${port}`;
}

/** Local endpoints that accept connections: TCP listeners (the same rule as the Linux collector). */
export function listenerIndex(sockets: RawSocket[]): Set<string> {
  const set = new Set<string>();
  for (const s of sockets) if (s.transport === 'tcp' && s.state === 'LISTEN') set.add(listenKey(s.localIp, s.localPort));
  return set;
}

/**
 * egress for sockets this host initiated, ingress for accepted ones (local port of a TCP listener on the same or a
 * wildcard address), none for listeners and unconnected UDP. Connected UDP has no listener to match: egress.
 */
export function directionOf(s: RawSocket, listeners: Set<string>): 'egress' | 'ingress' | undefined {
  if (s.state === 'LISTEN' || s.state === 'UNCONNECTED') return undefined;
  if (s.transport === 'udp') return 'egress';
  if (s.state === 'SYN_RECV') return 'ingress';
  if (s.state === 'CLOSE' && isUnspecified(s.remoteIp) && s.remotePort === 0) return undefined; // bound, never connected
  const p = s.localPort;
  const accepted = listeners.has(listenKey(s.localIp, p)) || listeners.has(listenKey('0.0.0.0', p)) || listeners.has(listenKey('::', p));
  return accepted ? 'ingress' : 'egress';
}
