// The detection window of the connection history: per (process, destination) pair the start times seen within
// the window, in packed arrays (HistoryView for the detectors). history.ts persists the history and reloads this
// window from the database at start, so beacon timing survives a restart.
import type { Connection, Transport } from '../../collectors/types.js';
import type { ConnectionEvent } from '../../core/connection.js';
import type { HistoryPair, HistoryView } from '../../core/views.js';
import type { ProcessKey } from '../../core/process-key.js';
import { canonicalIp } from '../../core/ip.js';

type Attribution = ConnectionEvent['attribution'];


const ATTRIBUTIONS: readonly Attribution[] = ['socket', 'inferred', 'none'];
const attributionCode = (a: Attribution): number => (a === 'socket' ? 0 : a === 'inferred' ? 1 : 2);

const EMPTY: readonly number[] = Object.freeze([]);

const portCode = (port: number, transport: Transport): number => port * 2 + (transport === 'udp' ? 1 : 0);

/**
 * One (process, destination) pair. Per start it holds one number (a double in a packed array) and, once a start
 * that was not read from a socket arrives, one byte of attribution; no object or string per start. Of the rows it
 * keeps only the owner of the newest start (references to its process, user and host objects).
 */
class WindowPair implements HistoryPair {
  /** Start times, oldest first. */
  readonly starts: number[] = [];
  /** Attribution codes parallel to `starts` (its length is the capacity); null while every start is 'socket'. */
  att: Uint8Array | null = null;
  version: number;
  /** The newest start's owner: references to the row's process, user and host objects, not the row. */
  ownerTs = 0;
  process: Connection['process'] | null = null;
  user: Connection['user'] | null = null;
  host: Connection['host'] | null = null;
  direction: Connection['network']['direction'] = undefined;

  constructor(
    readonly processKey: ProcessKey,
    readonly ip: string,
    readonly port: number,
    readonly transport: Transport,
    version: number,
  ) {
    this.version = version;
  }

  attributionAt(i: number): Attribution {
    return ATTRIBUTIONS[this.att ? this.att[i]! : 0]!;
  }

  /** Inserts an attribution code at i; `starts` already holds the new start, so it is one longer than before. */
  insertCode(i: number, code: number): void {
    if (code === 0 && !this.att) return;
    const n = this.starts.length;
    let att = this.att;
    if (!att || att.length < n) {
      const grown = new Uint8Array(Math.max(8, Math.ceil(n * 1.5)));
      if (att) grown.set(att.subarray(0, n - 1));
      this.att = att = grown;
    }
    att.copyWithin(i + 1, i, n - 1);
    att[i] = code;
  }

  /** Drops the first k starts (and codes). */
  dropFront(k: number): void {
    const n = this.starts.length;
    this.starts.splice(0, k);
    const att = this.att;
    if (!att) return;
    att.copyWithin(0, k, n);
    const left = n - k;
    if (att.length > 64 && left < att.length / 4) this.att = att.slice(0, Math.max(8, Math.ceil(left * 1.5)));
  }

  /** Removes the start at i. */
  removeAt(i: number): void {
    const n = this.starts.length;
    this.starts.splice(i, 1);
    this.att?.copyWithin(i, i + 1, n);
  }
}

/** Journal entry kinds for undoing a rolled-back transaction: an added start, or starts dropped by the cap. */
interface DroppedStarts {
  starts: number[];
  codes: number[];
}

/**
 * The starts of the last `windowMs`, by process and destination (process → ip → port/transport). Changes made
 * inside a database transaction are journaled, so that a rollback (`rollbackTo`) undoes them.
 */
export class HistoryWindow implements HistoryView {
  private readonly byProcess = new Map<ProcessKey, Map<string, Map<number, WindowPair>>>();
  private pairCount = 0;
  private startCount = 0;
  /** Version source for pairs: a pair's version is the clock value of its last change. */
  private clock = 0;
  /** pairs(), rebuilt only when a pair comes or goes. */
  private list: WindowPair[] | null = null;
  /** Undo journal while a transaction is open (null otherwise): the pair of each change and what changed. */
  private journal: { pairs: WindowPair[]; values: number[]; codes: number[]; dropped: Map<number, DroppedStarts> } | null = null;

  constructor(
    readonly windowMs: number,
    private readonly maxStartsPerPair: number,
  ) {}

  add(
    key: ProcessKey,
    ip: string,
    port: number,
    transport: Transport,
    ts: number,
    attribution: Attribution = 'socket',
    row: Connection | null = null,
  ): void {
    const pair = this.pairFor(key, ip, port, transport);
    const starts = pair.starts;
    // Starts arrive in time order; a late one (an estimated TIME_WAIT start) is placed where it belongs.
    let i = starts.length;
    while (i > 0 && (starts[i - 1] as number) > ts) i--;
    if (i === starts.length) starts.push(ts);
    else starts.splice(i, 0, ts);
    const code = attributionCode(attribution);
    pair.insertCode(i, code);
    this.startCount++;
    if (row && i === starts.length - 1) {
      pair.process = row.process;
      pair.user = row.user;
      pair.host = row.host;
      pair.direction = row.network.direction;
      pair.ownerTs = ts;
    }
    this.note(pair, ts, code);
    if (starts.length > this.maxStartsPerPair) {
      const drop = starts.length - this.maxStartsPerPair;
      if (this.journal) {
        this.journal.dropped.set(this.journal.pairs.length, {
          starts: starts.slice(0, drop),
          codes: Array.from({ length: drop }, (_, j) => (pair.att ? pair.att[j]! : 0)),
        });
        this.note(pair, Number.NaN, -1);
      }
      pair.dropFront(drop);
      this.startCount -= drop;
    }
    pair.version = ++this.clock;
  }

  /** Drops starts older than `now - windowMs`. */
  advance(now: number): void {
    const cutoff = now - this.windowMs;
    for (const byIp of this.byProcess.values()) {
      for (const byPort of byIp.values()) {
        for (const pair of byPort.values()) {
          const starts = pair.starts;
          if ((starts[0] as number) >= cutoff) continue;
          let i = 0;
          while (i < starts.length && (starts[i] as number) < cutoff) i++;
          this.startCount -= i;
          if (i < starts.length) {
            pair.dropFront(i);
            pair.version = ++this.clock;
          } else this.remove(pair);
        }
      }
    }
  }

  clear(): void {
    this.byProcess.clear();
    this.pairCount = 0;
    this.startCount = 0;
    this.list = null;
    this.journal = null;
  }

  /** Starts journaling changes (if not already); returns the mark to roll back to. */
  beginJournal(): number {
    this.journal ??= { pairs: [], values: [], codes: [], dropped: new Map() };
    return this.journal.pairs.length;
  }

  /** The transaction committed: changes are final. */
  endJournal(): void {
    this.journal = null;
  }

  /** Undoes the changes journaled since `mark` (newest first); ends journaling at mark 0. */
  rollbackTo(mark: number): void {
    const j = this.journal;
    if (!j) return;
    for (let e = j.pairs.length - 1; e >= mark; e--) {
      const pair = j.pairs[e]!;
      const code = j.codes[e]!;
      if (code < 0) {
        // Starts the cap dropped: back to the front.
        const d = j.dropped.get(e);
        if (d) {
          pair.starts.unshift(...d.starts);
          if (pair.att || d.codes.some((c) => c !== 0)) {
            const n = pair.starts.length;
            const att = new Uint8Array(Math.max(8, Math.ceil(n * 1.5)));
            att.set(d.codes);
            if (pair.att) att.set(pair.att.subarray(0, n - d.starts.length), d.starts.length);
            pair.att = att;
          }
          this.startCount += d.starts.length;
        }
        pair.version = ++this.clock;
        continue;
      }
      const ts = j.values[e]!;
      for (let i = pair.starts.length - 1; i >= 0; i--) {
        if (pair.starts[i] === ts && (pair.att ? pair.att[i]! : 0) === code) {
          pair.removeAt(i);
          this.startCount--;
          break;
        }
      }
      pair.version = ++this.clock;
      if (pair.starts.length === 0) this.remove(pair);
    }
    j.pairs.length = mark;
    j.values.length = mark;
    j.codes.length = mark;
    for (const k of j.dropped.keys()) if (k >= mark) j.dropped.delete(k);
    if (mark === 0) this.journal = null;
  }

  private note(pair: WindowPair, value: number, code: number): void {
    const j = this.journal;
    if (!j) return;
    j.pairs.push(pair);
    j.values.push(value);
    j.codes.push(code);
  }

  private pairFor(key: ProcessKey, ip: string, port: number, transport: Transport): WindowPair {
    let byIp = this.byProcess.get(key);
    if (!byIp) this.byProcess.set(key, (byIp = new Map()));
    let byPort = byIp.get(ip);
    if (!byPort) byIp.set(ip, (byPort = new Map()));
    const code = portCode(port, transport);
    let pair = byPort.get(code);
    if (!pair) {
      byPort.set(code, (pair = new WindowPair(key, ip, port, transport, ++this.clock)));
      this.pairCount++;
      this.list = null;
    }
    return pair;
  }

  private remove(pair: WindowPair): void {
    const byIp = this.byProcess.get(pair.processKey);
    const byPort = byIp?.get(pair.ip);
    const code = portCode(pair.port, pair.transport);
    if (!byIp || !byPort || byPort.get(code) !== pair) return;
    byPort.delete(code);
    if (byPort.size === 0) byIp.delete(pair.ip);
    if (byIp.size === 0) this.byProcess.delete(pair.processKey);
    this.pairCount--;
    this.list = null;
  }

  private pair(key: ProcessKey, ip: string, port: number, transport: Transport): WindowPair | undefined {
    const byIp = this.byProcess.get(key);
    if (!byIp) return undefined;
    const canonical = ip.includes(':') ? (canonicalIp(ip) ?? ip) : ip;
    return byIp.get(canonical)?.get(portCode(port, transport));
  }

  starts(key: ProcessKey, ip: string, port: number, transport: Transport): readonly number[] {
    return this.pair(key, ip, port, transport)?.starts ?? EMPTY;
  }

  events(key: ProcessKey, ip: string, port: number, transport: Transport): Array<{ ts: number; attribution: Attribution }> {
    const pair = this.pair(key, ip, port, transport);
    if (!pair) return [];
    return pair.starts.map((ts, i) => ({ ts, attribution: pair.attributionAt(i) }));
  }

  /**
   * A row for the pair's newest start: its owner (process, user, host objects as the collector gave them) with the
   * pair's destination. What a finding needs of a connection that is gone; the socket fields are not kept.
   */
  lastRow(key: ProcessKey, ip: string, port: number, transport: Transport): Connection | null {
    const pair = this.pair(key, ip, port, transport);
    if (!pair?.process || !pair.user || !pair.host) return null;
    const v6 = pair.ip.includes(':');
    return {
      '@timestamp': new Date(pair.ownerTs).toISOString(),
      host: pair.host,
      process: pair.process,
      user: pair.user,
      source: { ip: v6 ? '::' : '0.0.0.0', port: 0 },
      destination: { ip: pair.ip, port: pair.port },
      network: { transport: pair.transport, type: v6 ? 'ipv6' : 'ipv4', ...(pair.direction !== undefined ? { direction: pair.direction } : {}) },
      socket: { state: 'UNKNOWN', inode: 0, family: v6 ? 'inet6' : 'inet', owner_pids: [] },
    };
  }

  pairs(): readonly HistoryPair[] {
    if (this.list) return this.list;
    const out: WindowPair[] = [];
    for (const byIp of this.byProcess.values()) {
      for (const byPort of byIp.values()) {
        for (const p of byPort.values()) out.push(p); // the pair itself: no copy per pair per detector per sample
      }
    }
    return (this.list = out);
  }

  size(): number {
    return this.pairCount;
  }

  /**
   * Pairs and starts held, and the bytes of attribution codes (pairs whose starts were all read from sockets have
   * none): the memory the window needs grows with these, about 8–12 bytes per start.
   */
  stats(): { pairs: number; starts: number; attributionBytes: number } {
    let attributionBytes = 0;
    for (const byIp of this.byProcess.values()) for (const byPort of byIp.values()) for (const p of byPort.values()) attributionBytes += p.att?.length ?? 0;
    return { pairs: this.pairCount, starts: this.startCount, attributionBytes };
  }
}
