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
  key: string;
  inode: number;
  start: number;
  lastSeen: number;
  /** Sample generation in which it was last seen: what was not seen in this one has ended. */
  gen: number;
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

function rowTupleKey(row: Connection): string {
  return tupleKey(row.socket.netns, row.network.transport, row.source.ip, row.source.port, row.destination.ip, row.destination.port);
}

/** Linux keeps a closed connection in TIME_WAIT for a fixed 60 s (TCP_TIMEWAIT_LEN). */
const TIME_WAIT_MS = 60_000;

/**
 * When the connection behind a trace closed: a TIME_WAIT socket's timer says it to the millisecond (netlink), which
 * keeps the rhythm of short call-backs that a 1 s sample grid would blur; otherwise the sample time.
 */
function closedAt(row: Connection, now: number): number {
  const left = row.socket.timer_ms;
  if (row.socket.state !== 'TIME_WAIT' || left === undefined || left > TIME_WAIT_MS) return now;
  return now - (TIME_WAIT_MS - left);
}

/** A connection has a remote end: not a listener, not an unconnected UDP socket. */
export function isConnected(row: Connection): boolean {
  const s = row.socket.state;
  return s !== 'LISTEN' && s !== 'UNCONNECTED' && row.destination.port !== 0;
}

export class ConnectionTracker {
  /** Owned sockets by inode (inodes are unique system-wide): the steady-state path builds no string. */
  private readonly byInode = new Map<number, Live>();
  /** Every live connection by 4-tuple, to recognise the TIME_WAIT or conntrack trace a closed one leaves. */
  private readonly byTuple = new Map<string, Live>();
  private readonly ended = new Map<string, number>();
  private readonly owners = new Map<string, { row: Connection; key: ProcessKey | null; at: number }>();
  private gen = 0;

  constructor(private readonly keyOf: (row: Connection) => ProcessKey | null) {}

  /** How long a socket has been seen, by inode (null for one not tracked). */
  ageOf(inode: number, now: number): number | null {
    const live = this.byInode.get(inode);
    return live ? now - live.start : null;
  }

  update(rows: Connection[], now: number, flows: ConntrackFlow[] | null = null, isLocal: (ip: string) => boolean = () => true): TrackerUpdate {
    const gen = ++this.gen;
    const started: ConnectionEvent[] = [];

    // Owned sockets first, so that their destinations can attribute the unowned traces of this same sample.
    const unowned: Connection[] = [];
    for (const row of rows) {
      if (!isConnected(row)) continue;
      if (row.process.pid === null || row.socket.inode === 0) {
        unowned.push(row);
        continue;
      }
      const live = this.byInode.get(row.socket.inode);
      if (live) {
        live.lastSeen = now;
        live.gen = gen;
        continue;
      }
      const key = rowTupleKey(row);
      const pk = this.keyOf(row);
      this.noteOwner(row, pk, now);
      const trace = this.byTuple.get(key);
      if (trace) {
        // Its trace was seen first (or it was counted before under another inode): upgrade, do not recount.
        trace.inode = row.socket.inode;
        trace.gen = gen;
        trace.lastSeen = now;
        trace.event = { ...trace.event, processKey: pk, row, attribution: 'socket' };
        this.byInode.set(row.socket.inode, trace);
        continue;
      }
      const fresh: Live = { key, inode: row.socket.inode, start: now, lastSeen: now, gen, event: { ts: now, processKey: pk, row, attribution: 'socket' } };
      this.byInode.set(fresh.inode, fresh);
      this.byTuple.set(key, fresh);
      if (this.ended.has(key)) continue;
      started.push(fresh.event);
    }
    for (const row of unowned) this.trace(rowTupleKey(row), row, now, gen, started);
    if (flows) {
      const host = rows[0]?.host ?? { name: '' };
      for (const f of flows) {
        if (!isLocal(f.srcIp)) continue; // a flow this host did not start
        const key = tupleKey(undefined, f.transport, f.srcIp, f.srcPort, f.dstIp, f.dstPort);
        const live = this.byTuple.get(key);
        if (live) {
          live.gen = gen;
          continue;
        }
        this.trace(key, this.flowRow(f, host, now), now, gen, started);
      }
    }

    const ended: EndedConnection[] = [];
    for (const [key, live] of this.byTuple) {
      if (live.gen === gen) continue;
      this.byTuple.delete(key);
      if (live.inode !== 0) this.byInode.delete(live.inode);
      this.ended.set(key, now);
      if (live.event.attribution === 'socket') this.noteOwner(live.event.row, live.event.processKey, now);
      ended.push({ event: live.event, end: live.lastSeen });
    }
    // An owned socket whose 4-tuple is shared with a newer one (port reuse) ends when its inode goes.
    for (const [inode, live] of this.byInode) {
      if (live.gen !== gen) this.byInode.delete(inode);
    }
    this.expire(now);
    return { started, ended };
  }

  private noteOwner(row: Connection, key: ProcessKey | null, now: number): void {
    const dk = destKey(row.socket.netns, row.network.transport, row.destination.ip, row.destination.port);
    const owner = this.owners.get(dk);
    if (owner) {
      owner.row = row;
      owner.key = key;
      owner.at = now;
    } else this.owners.set(dk, { row, key, at: now });
  }

  /** An unowned socket or flow: a new start unless its connection was already counted. */
  private trace(key: string, row: Connection, now: number, gen: number, started: ConnectionEvent[]): void {
    const live = this.byTuple.get(key);
    if (live) {
      live.gen = gen;
      // A TIME_WAIT socket or a conntrack entry is what remains after the close: the connection is over.
      if (row.socket.inode !== 0) live.lastSeen = now;
      return;
    }
    const owner = this.owners.get(destKey(row.socket.netns, row.network.transport, row.destination.ip, row.destination.port));
    const ts = closedAt(row, now);
    const event: ConnectionEvent =
      owner && now - owner.at <= OWNER_MEMORY_MS
        ? {
            ts,
            processKey: owner.key,
            row: { ...row, process: owner.row.process, user: owner.row.user, socket: { ...row.socket, owner_pids: [] } },
            attribution: 'inferred',
          }
        : { ts, processKey: null, row, attribution: 'none' };
    this.byTuple.set(key, { key, inode: 0, start: now, lastSeen: now, gen, event });
    // Traces present at the first sample are connections that ended before we started watching: not new.
    if (!this.ended.has(key) && gen > 1) started.push(event);
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
    return this.byTuple.size;
  }
}
