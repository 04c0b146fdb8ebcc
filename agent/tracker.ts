// Turns samples of the socket table into connection starts and ends. Short connections that lived between two
// samples are recovered from what the kernel leaves behind — TIME_WAIT sockets (the 4-tuple, ~60 s, when this
// side closed first) and conntrack flows (minutes, whichever side closed) — and attributed to the process that
// was last seen owning a socket to the same destination, marked 'inferred'; otherwise 'none'.
import type { Connection } from '../collectors/types.js';
import type { ConntrackFlow } from '../collectors/conntrack.js';
import { ipType } from '../collectors/ip.js';
import type { ConnectionEvent, ProcessKey } from './detect/types.js';

/** How long an ended connection's tuple is remembered, so its TIME_WAIT or conntrack trace is not a new start. */
const ENDED_MEMORY_MS = 10 * 60_000;
/** How long an owned destination is used to attribute unowned traces to the same process. */
const OWNER_MEMORY_MS = 30 * 60_000;
const MAX_TRACKED = 200_000;

interface Live {
  start: number;
  lastSeen: number;
  event: ConnectionEvent;
}

export interface EndedConnection {
  event: ConnectionEvent;
  end: number;
}

export interface TrackerUpdate {
  started: ConnectionEvent[];
  ended: EndedConnection[];
}

function tupleKey(netns: string | undefined, transport: string, sip: string, sport: number, dip: string, dport: number): string {
  return `${netns ?? ''}|${transport}|${sip}|${sport}|${dip}|${dport}`;
}

function destKey(netns: string | undefined, transport: string, ip: string, port: number): string {
  return `${netns ?? ''}|${transport}|${ip}|${port}`;
}

/** A connection has a remote end: not a listener, not an unconnected UDP socket. */
export function isConnected(row: Connection): boolean {
  const s = row.socket.state;
  return s !== 'LISTEN' && s !== 'UNCONNECTED' && row.destination.port !== 0;
}

export class ConnectionTracker {
  private readonly live = new Map<string, Live>();
  private readonly ended = new Map<string, number>();
  private readonly owners = new Map<string, { row: Connection; key: ProcessKey | null; at: number }>();

  constructor(private readonly keyOf: (row: Connection) => ProcessKey | null) {}

  update(rows: Connection[], now: number, flows: ConntrackFlow[] | null = null, isLocal: (ip: string) => boolean = () => true): TrackerUpdate {
    const started: ConnectionEvent[] = [];
    const seen = new Set<string>();

    // Owned sockets first, so that their destinations can attribute the unowned traces of this same sample.
    const unowned: Array<{ key: string; row: Connection }> = [];
    for (const row of rows) {
      if (!isConnected(row)) continue;
      const key = tupleKey(row.socket.netns, row.network.transport, row.source.ip, row.source.port, row.destination.ip, row.destination.port);
      seen.add(key);
      if (row.process.pid !== null) {
        const pk = this.keyOf(row);
        const dk = destKey(row.socket.netns, row.network.transport, row.destination.ip, row.destination.port);
        const owner = this.owners.get(dk);
        if (owner) {
          owner.row = row;
          owner.key = pk;
          owner.at = now;
        } else this.owners.set(dk, { row, key: pk, at: now });
        const live = this.live.get(key);
        if (live) {
          live.lastSeen = now;
          // A trace seen first and its owner found later (or a pid that changed): keep the better attribution.
          if (live.event.attribution !== 'socket') live.event = { ...live.event, processKey: pk, row, attribution: 'socket' };
          continue;
        }
        if (this.ended.has(key)) continue;
        const event: ConnectionEvent = { ts: now, processKey: pk, row, attribution: 'socket' };
        this.live.set(key, { start: now, lastSeen: now, event });
        started.push(event);
      } else {
        unowned.push({ key, row });
      }
    }
    for (const { key, row } of unowned) this.trace(key, row, now, started);
    if (flows) {
      for (const f of flows) {
        if (!isLocal(f.srcIp)) continue; // a flow this host did not start
        const key = tupleKey(undefined, f.transport, f.srcIp, f.srcPort, f.dstIp, f.dstPort);
        if (seen.has(key)) continue;
        seen.add(key);
        this.trace(key, this.flowRow(f, rows[0]?.host ?? { name: '' }, now), now, started);
      }
    }

    const ended: EndedConnection[] = [];
    for (const [key, live] of this.live) {
      if (seen.has(key)) continue;
      this.live.delete(key);
      this.ended.set(key, now);
      ended.push({ event: live.event, end: live.lastSeen });
    }
    this.expire(now);
    return { started, ended };
  }

  /** An unowned socket or flow: a new start unless its connection was already counted. */
  private trace(key: string, row: Connection, now: number, started: ConnectionEvent[]): void {
    const live = this.live.get(key);
    if (live) {
      // A TIME_WAIT socket or a conntrack entry is what remains after the close: the connection is over.
      if (row.socket.inode !== 0) live.lastSeen = now;
      return;
    }
    if (this.ended.has(key)) return;
    const owner = this.owners.get(destKey(row.socket.netns, row.network.transport, row.destination.ip, row.destination.port));
    const event: ConnectionEvent =
      owner && now - owner.at <= OWNER_MEMORY_MS
        ? {
            ts: now,
            processKey: owner.key,
            row: { ...row, process: owner.row.process, user: owner.row.user, socket: { ...row.socket, owner_pids: [] } },
            attribution: 'inferred',
          }
        : { ts: now, processKey: null, row, attribution: 'none' };
    this.live.set(key, { start: now, lastSeen: now, event });
    started.push(event);
  }

  private flowRow(f: ConntrackFlow, host: Connection['host'], now: number): Connection {
    return {
      '@timestamp': new Date(now).toISOString(),
      host,
      process: { pid: null, name: null, executable: null, command_line: null, parent: { pid: null, name: null } },
      user: { name: null, id: null },
      source: { ip: f.srcIp, port: f.srcPort },
      destination: { ip: f.dstIp, port: f.dstPort },
      network: { transport: f.transport, type: ipType(f.dstIp), direction: 'egress' },
      socket: { state: f.transport === 'udp' ? 'ESTABLISHED' : ((f.state as Connection['socket']['state']) ?? 'ESTABLISHED'), inode: 0, family: f.family, owner_pids: [] },
    };
  }

  private expire(now: number): void {
    for (const [key, at] of this.ended) {
      if (now - at <= ENDED_MEMORY_MS && this.ended.size <= MAX_TRACKED) break; // insertion order: oldest first
      this.ended.delete(key);
    }
    for (const [key, o] of this.owners) if (now - o.at > OWNER_MEMORY_MS) this.owners.delete(key);
  }

  get liveCount(): number {
    return this.live.size;
  }
}
