// Turns samples of the socket table into connection starts and ends. Short connections that lived between two
// samples are recovered from what the kernel leaves behind — TIME_WAIT sockets (the 4-tuple, ~60 s, when this
// side closed first) and conntrack flows (minutes, whichever side closed) — and attributed to the process that
// was last seen owning a socket to the same destination, marked 'inferred'; otherwise 'none'.
import type { Connection } from '../collectors/types.js';
import type { ConntrackFlow } from '../collectors/conntrack.js';
import { ipType } from '../core/ip.js';
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
  /** What the caller attached to its start (`attach`): the history row id; 0 when none. */
  ref: number;
  /** Its destination key (netns, transport, ip, port), built once: ownership is noted by it at start and end. */
  dk: string;
}

export interface EndedConnection {
  event: ConnectionEvent;
  end: number;
  /** The number `attach` gave the connection's start (the history row id), or 0. */
  ref: number;
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
  /** 4-tuples of connections that ended in the last ENDED_MEMORY_MS, as 52-bit hashes (no string kept). */
  private readonly ended = new EndedTuples();
  private readonly owners = new Map<string, { row: Connection; key: ProcessKey | null; at: number }>();
  /** The connections behind the last update's `started`, in order, for `attach`. */
  private startedLives: Live[] = [];
  private gen = 0;

  constructor(private readonly keyOf: (row: Connection) => ProcessKey | null) {}

  /** How long a socket has been seen, by inode (null for one not tracked). */
  ageOf(inode: number, now: number): number | null {
    const live = this.byInode.get(inode);
    return live ? now - live.start : null;
  }

  /**
   * Attaches numbers to the connections of the last update's `started` (started[i] gets first + i): the history row
   * ids of their starts. An ended connection reports its number in `EndedConnection.ref`.
   */
  attach(first: number): void {
    const lives = this.startedLives;
    for (let i = 0; i < lives.length; i++) lives[i]!.ref = first + i;
  }

  update(rows: Connection[], now: number, flows: ConntrackFlow[] | null = null, isLocal: (ip: string) => boolean = () => true): TrackerUpdate {
    const gen = ++this.gen;
    const started: ConnectionEvent[] = [];
    const lives: Live[] = (this.startedLives = []);

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
      const dk = destKey(row.socket.netns, row.network.transport, row.destination.ip, row.destination.port);
      this.noteOwner(dk, row, pk, now);
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
      const fresh: Live = { key, inode: row.socket.inode, start: now, lastSeen: now, gen, event: { ts: now, processKey: pk, row, attribution: 'socket' }, ref: 0, dk };
      this.byInode.set(fresh.inode, fresh);
      this.byTuple.set(key, fresh);
      if (this.ended.has(key)) continue;
      started.push(fresh.event);
      lives.push(fresh);
    }
    for (const row of unowned) this.trace(rowTupleKey(row), row, now, gen, started, lives);
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
        this.trace(key, this.flowRow(f, host, now), now, gen, started, lives);
      }
    }

    const ended: EndedConnection[] = [];
    this.byTuple.forEach((live, key) => {
      if (live.gen === gen) return;
      this.byTuple.delete(key);
      if (live.inode !== 0) this.byInode.delete(live.inode);
      this.ended.add(key, now);
      if (live.event.attribution === 'socket') this.noteOwner(live.dk, live.event.row, live.event.processKey, now);
      ended.push({ event: live.event, end: live.lastSeen, ref: live.ref });
    });
    // An owned socket whose 4-tuple is shared with a newer one (port reuse) ends when its inode goes.
    if (this.byInode.size > 0) {
      this.byInode.forEach((live, inode) => {
        if (live.gen !== gen) this.byInode.delete(inode);
      });
    }
    this.expire(now);
    return { started, ended };
  }

  private noteOwner(dk: string, row: Connection, key: ProcessKey | null, now: number): void {
    const owner = this.owners.get(dk);
    if (owner) {
      owner.row = row;
      owner.key = key;
      owner.at = now;
    } else this.owners.set(dk, { row, key, at: now });
  }

  /** An unowned socket or flow: a new start unless its connection was already counted. */
  private trace(key: string, row: Connection, now: number, gen: number, started: ConnectionEvent[], lives: Live[]): void {
    const live = this.byTuple.get(key);
    if (live) {
      live.gen = gen;
      // A TIME_WAIT socket or a conntrack entry is what remains after the close: the connection is over.
      if (row.socket.inode !== 0) live.lastSeen = now;
      return;
    }
    const dk = destKey(row.socket.netns, row.network.transport, row.destination.ip, row.destination.port);
    const owner = this.owners.get(dk);
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
    const fresh: Live = { key, inode: 0, start: now, lastSeen: now, gen, event, ref: 0, dk };
    this.byTuple.set(key, fresh);
    // Traces present at the first sample are connections that ended before we started watching: not new.
    if (!this.ended.has(key) && gen > 1) {
      started.push(event);
      lives.push(fresh);
    }
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
    this.ended.expire(now - ENDED_MEMORY_MS, MAX_TRACKED);
    // Owners are refreshed in place, so the map is not in time order: sweep it once a minute of sample time.
    if (now - this.ownersSweptAt >= 60_000 || now < this.ownersSweptAt) {
      this.ownersSweptAt = now;
      this.owners.forEach((o, key) => {
        if (now - o.at > OWNER_MEMORY_MS) this.owners.delete(key);
      });
    }
  }

  private ownersSweptAt = Number.NEGATIVE_INFINITY;

  get liveCount(): number {
    return this.byTuple.size;
  }

  /** Ended connections remembered (their tuples, as hashes). */
  get endedCount(): number {
    return this.ended.size;
  }
}

/**
 * The 4-tuples of recently ended connections, as a set of 52-bit hashes with their end times: an open-addressing
 * table in typed arrays plus a ring in insertion order for expiry. About 40 bytes per tuple and no object or
 * string per tuple; two different tuples share a hash with a chance of about n / 2^52 per lookup (n ≤ 200,000).
 */
export class EndedTuples {
  private keys = new Float64Array(1024);
  private times = new Float64Array(1024);
  private mask = 1023;
  private count = 0;
  /** Insertion-ordered ring of (hash, time). */
  private ringKeys = new Float64Array(1024);
  private ringTimes = new Float64Array(1024);
  private head = 0;
  private length = 0;

  get size(): number {
    return this.count;
  }

  has(tuple: string): boolean {
    return this.slot(hashTuple(tuple)) >= 0;
  }

  /** Remembers (or refreshes) a tuple as ended at `at`. */
  add(tuple: string, at: number): void {
    const h = hashTuple(tuple);
    let i = this.slot(h);
    if (i < 0) {
      if ((this.count + 1) * 2 > this.keys.length) this.grow();
      i = this.findFree(h);
      this.keys[i] = h;
      this.count++;
    }
    this.times[i] = at;
    if (this.length === this.ringKeys.length) this.growRing();
    const r = (this.head + this.length) % this.ringKeys.length;
    this.ringKeys[r] = h;
    this.ringTimes[r] = at;
    this.length++;
  }

  /** Forgets tuples that ended before `before`, and the oldest beyond `max`. */
  expire(before: number, max: number): void {
    while (this.length > 0) {
      const r = this.head;
      const at = this.ringTimes[r]!;
      if (at >= before && this.count <= max) break; // insertion order: oldest first
      const h = this.ringKeys[r]!;
      this.head = (r + 1) % this.ringKeys.length;
      this.length--;
      const i = this.slot(h);
      // A tuple refreshed later has a newer entry further on in the ring: only the newest removes it.
      if (i >= 0 && this.times[i] === at) this.removeAt(i);
    }
  }

  private slot(h: number): number {
    const keys = this.keys;
    for (let i = probe(h, this.mask); ; i = (i + 1) & this.mask) {
      const k = keys[i]!;
      if (k === h) return i;
      if (k === 0) return -1;
    }
  }

  private findFree(h: number): number {
    for (let i = probe(h, this.mask); ; i = (i + 1) & this.mask) if (this.keys[i] === 0) return i;
  }

  /** Backward-shift deletion keeps linear probing free of tombstones. */
  private removeAt(at: number): void {
    const keys = this.keys;
    const times = this.times;
    const mask = this.mask;
    let i = at;
    for (let j = (i + 1) & mask; keys[j] !== 0; j = (j + 1) & mask) {
      const home = probe(keys[j]!, mask);
      // j's entry may move into the hole at i when its home is not in (i, j] (cyclically)
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        keys[i] = keys[j]!;
        times[i] = times[j]!;
        i = j;
      }
    }
    keys[i] = 0;
    times[i] = 0;
    this.count--;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldTimes = this.times;
    this.keys = new Float64Array(oldKeys.length * 2);
    this.times = new Float64Array(oldKeys.length * 2);
    this.mask = this.keys.length - 1;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i]!;
      if (k === 0) continue;
      const j = this.findFree(k);
      this.keys[j] = k;
      this.times[j] = oldTimes[i]!;
    }
  }

  private growRing(): void {
    const n = this.ringKeys.length;
    const keys = new Float64Array(n * 2);
    const times = new Float64Array(n * 2);
    for (let k = 0; k < this.length; k++) {
      keys[k] = this.ringKeys[(this.head + k) % n]!;
      times[k] = this.ringTimes[(this.head + k) % n]!;
    }
    this.ringKeys = keys;
    this.ringTimes = times;
    this.head = 0;
  }
}

const probe = (h: number, mask: number): number => (h % 4294967296) & mask;

/** A 52-bit hash of the tuple text (two 32-bit FNV-1a variants), never 0. */
function hashTuple(text: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  const h = (a >>> 0) * 1048576 + ((b >>> 12) & 0xfffff);
  return h === 0 ? 1 : h;
}
