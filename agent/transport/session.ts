// The agent's link to the server: one WebSocket, speaking core/protocol.ts.
//
//   connect ─ hello (agent id, version, host facts, token or enroll secret) ─ welcome (token on enrollment,
//   the server's allow rules) ─ batches from the outbox (a window of a few in flight) ─ ack → delete
//
// Heartbeats carry the outbox figures; ws ping/pong finds a dead link (terminated after missed pongs); a batch
// not acked in time ends the session. Reconnects back off exponentially with full jitter (1 s doubling to a 60 s
// cap, reset once a session has been up a while or got an ack). The server's UNSUPPORTED_VERSION, UNAUTHENTICATED
// and REVOKED closes are permanent: said clearly in the log, then retried only every `permanentRetryMs` (1 h) —
// the agent keeps hunting and queueing meanwhile, so an operator's fix on the server (upgrade, un-revoke)
// is picked up without touching the host. One exception: when a stored token is refused as UNAUTHENTICATED and
// an enroll secret was given, the next attempt enrolls again with the secret (a server that lost its database).
// A REVOKED agent never falls back to the secret.
//
// Where to connect and how to trust the server (--server, --ca, --pin, --insecure) is ./target.ts.
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import {
  CLOSE,
  MAX_BATCH,
  MAX_PAYLOAD,
  PROTOCOL_VERSIONS,
  ServerMessageSchema,
  parseFrame,
  type AllowRuleWire,
  type HostFactsWire,
  type Reply,
  type ServerMessage,
  type ServerRequest,
} from '../../core/protocol.js';
import type { Outbox } from '../../store/agent/outbox.js';
import type { AgentIdentityStore } from '../../store/agent/identity.js';
import { replyToUnparsedRequest } from '../live-response.js';
import { escapeForTerminal } from '../../core/escape.js';
import { webSocketOptions, type ServerTarget } from './target.js';

// ---------------------------------------------------------------------------------------------------------------
// Backoff

/** Full jitter: a uniform delay in [0, min(cap, base·2^attempt)). */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(0, attempt), 40));
  return Math.floor(Math.min(0.999_999, Math.max(0, random())) * ceiling);
}

const PERMANENT_CLOSES = new Map<number, string>([
  [CLOSE.UNSUPPORTED_VERSION, 'UNSUPPORTED_VERSION (the server speaks none of our protocol versions: upgrade the agent or the server)'],
  [CLOSE.UNAUTHENTICATED, 'UNAUTHENTICATED (the enroll secret or the stored token was not accepted)'],
  [CLOSE.REVOKED, 'REVOKED (this agent was revoked on the server)'],
]);

const CLOSE_NAMES = new Map<number, string>([...Object.entries(CLOSE).map(([k, v]) => [v, k] as [number, string]), [1005, 'NO_STATUS'], [1006, 'ABNORMAL'], [1011, 'SERVER_ERROR'], [1012, 'RESTARTING']]);

export function closeName(code: number): string {
  return CLOSE_NAMES.get(code) ?? String(code);
}

// ---------------------------------------------------------------------------------------------------------------
// The transport

export interface TransportTiming {
  backoffBaseMs: number;
  backoffCapMs: number;
  /** Wait after a permanent refusal (UNSUPPORTED_VERSION, UNAUTHENTICATED, REVOKED). */
  permanentRetryMs: number;
  /** From connect to welcome. */
  helloTimeoutMs: number;
  heartbeatMs: number;
  pingMs: number;
  /** Pings in a row without a pong before the link is declared dead. */
  missedPongs: number;
  /** A batch not acked within this ends the session (it is resent on the next). */
  ackTimeoutMs: number;
  /** A session up this long resets the backoff. */
  goodSessionMs: number;
  /** Batches in flight. */
  window: number;
  batchItems: number;
  batchBytes: number;
  /** Concurrent live-response requests; more are answered "busy". */
  maxRequests: number;
}

export const DEFAULT_TIMING: TransportTiming = {
  backoffBaseMs: 1000,
  backoffCapMs: 60_000,
  permanentRetryMs: 3_600_000,
  helloTimeoutMs: 15_000,
  heartbeatMs: 30_000,
  pingMs: 15_000,
  missedPongs: 2,
  ackTimeoutMs: 120_000,
  goodSessionMs: 10_000,
  window: 4,
  batchItems: MAX_BATCH,
  batchBytes: 1024 * 1024,
  maxRequests: 4,
};

export type TransportState = 'idle' | 'connecting' | 'ready' | 'backoff' | 'refused' | 'stopped';

export interface TransportOptions {
  target: ServerTarget;
  agentId: string;
  version: string;
  hostFacts(): Promise<HostFactsWire>;
  identity: AgentIdentityStore;
  enrollSecret: string | null;
  outbox: Outbox;
  /** Applies the allow rules of a welcome (replacing the server's rules); returns how many were kept. */
  applyAllow(rules: AllowRuleWire[]): number;
  handleRequest(req: ServerRequest): Promise<Reply>;
  /** One line per state change, without the newline. */
  log(line: string): void;
  timing?: Partial<TransportTiming>;
  random?: () => number;
}

interface Batch {
  seqs: Set<number>;
  sentAt: number;
}

interface Session {
  id: number;
  ws: WebSocket;
  auth: 'token' | 'secret';
  welcomed: boolean;
  openedAt: number | null;
  cursor: number;
  batches: Batch[];
  bySeq: Map<number, Batch>;
  /** A ping is out and nothing has come back since. */
  awaitingPong: boolean;
  /** Ticks in a row that found the previous ping unanswered. */
  missed: number;
  timers: NodeJS.Timeout[];
  requests: number;
  error: string | null;
  closed: boolean;
  gotAck: boolean;
}

export interface TransportStats {
  state: TransportState;
  sessions: number;
  welcomes: number;
  batchesSent: number;
  itemsSent: number;
  itemsAcked: number;
  lastClose: { code: number; reason: string } | null;
  attempt: number;
}

export class AgentTransport extends EventEmitter {
  private readonly t: TransportTiming;
  private readonly random: () => number;
  private session: Session | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private attempt = 0;
  private useSecret = false;
  private batchBytes: number;
  private sessionCounter = 0;
  private unsubscribe: (() => void) | null = null;
  private badFrames = 0;
  private skewLogged = false;
  readonly stats: TransportStats = {
    state: 'idle',
    sessions: 0,
    welcomes: 0,
    batchesSent: 0,
    itemsSent: 0,
    itemsAcked: 0,
    lastClose: null,
    attempt: 0,
  };

  constructor(private readonly o: TransportOptions) {
    super();
    this.t = { ...DEFAULT_TIMING, ...o.timing };
    this.random = o.random ?? Math.random;
    this.batchBytes = Math.min(this.t.batchBytes, MAX_PAYLOAD / 2);
  }

  get state(): TransportState {
    return this.stats.state;
  }

  private setState(state: TransportState): void {
    this.stats.state = state;
    this.emit('state', state);
  }

  /** Starts connecting (in the background); findings queued in the outbox are sent as they commit. */
  start(): void {
    if (this.stopped || this.stats.state !== 'idle') return;
    this.unsubscribe = this.o.outbox.onEnqueue(() => {
      if (this.session) this.pump(this.session);
    });
    this.connectSafely();
  }

  /** connect(), with any unexpected failure (a database error reading the token) logged and retried. */
  private connectSafely(): void {
    this.connect().catch((err: unknown) => {
      this.o.log(`cannot connect: ${escapeForTerminal(String((err as Error)?.message ?? err))}`);
      this.retry();
    });
  }

  private async connect(): Promise<void> {
    this.retryTimer = null;
    if (this.stopped) return;
    this.setState('connecting');
    const token = this.o.identity.token(this.o.target.origin);
    const auth: Session['auth'] = token && !this.useSecret ? 'token' : 'secret';
    if (auth === 'secret' && !this.o.enrollSecret) {
      this.refused('this agent has no token for this server and no --enroll-secret to enroll with');
      return;
    }
    let facts: HostFactsWire;
    try {
      facts = await this.o.hostFacts();
    } catch (err) {
      this.o.log(`host facts unavailable (${(err as Error).message}); retrying`);
      this.retry();
      return;
    }
    if (this.stopped) return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.o.target.url, webSocketOptions(this.o.target, this.t.helloTimeoutMs, this.o.version));
    } catch (err) {
      this.o.log(`cannot connect to ${this.o.target.url.href}: ${(err as Error).message}`);
      this.retry();
      return;
    }
    const s: Session = {
      id: ++this.sessionCounter,
      ws,
      auth,
      welcomed: false,
      openedAt: null,
      cursor: 0,
      batches: [],
      bySeq: new Map(),
      awaitingPong: false,
      missed: 0,
      timers: [],
      requests: 0,
      error: null,
      closed: false,
      gotAck: false,
    };
    this.session = s;
    this.stats.sessions++;
    const helloTimer = setTimeout(() => {
      if (!s.welcomed && !s.closed) {
        s.error = `no welcome within ${this.t.helloTimeoutMs} ms`;
        ws.terminate();
      }
    }, this.t.helloTimeoutMs);
    s.timers.push(helloTimer);
    ws.on('open', () => {
      s.openedAt = Date.now();
      const hello = {
        type: 'hello',
        protocol: [...PROTOCOL_VERSIONS],
        agent: { id: this.o.agentId, version: this.o.version.slice(0, 64) },
        host: facts,
        auth: auth === 'token' && token ? { token } : { enroll_secret: this.o.enrollSecret ?? '' },
      };
      this.send(s, JSON.stringify(hello));
    });
    ws.on('message', (data, isBinary) => {
      if (this.session !== s) return;
      s.awaitingPong = false; // anything from the server proves the link
      s.missed = 0;
      if (isBinary) {
        this.badFrame('a binary frame');
        return;
      }
      this.onMessage(s, data as Buffer);
    });
    ws.on('pong', () => {
      s.awaitingPong = false;
      s.missed = 0;
    });
    ws.on('error', (err) => {
      s.error ??= err.message;
    });
    ws.on('close', (code, reason) => this.onClose(s, code, reason.toString('utf8')));
  }

  private send(s: Session, text: string): boolean {
    if (s.closed || s.ws.readyState !== WebSocket.OPEN) return false;
    s.ws.send(text);
    return true;
  }

  private badFrame(what: string): void {
    this.badFrames++;
    if (this.badFrames === 1 || this.badFrames % 100 === 0) {
      this.o.log(`ignored ${what} from the server (${this.badFrames} so far)`);
    }
  }

  private onMessage(s: Session, data: Buffer): void {
    const parsed = parseFrame(ServerMessageSchema, data);
    if (!parsed.ok) {
      let raw: unknown = null;
      try {
        raw = JSON.parse(data.toString('utf8'));
      } catch {
        // not JSON: nothing to answer
      }
      const reply = s.welcomed ? replyToUnparsedRequest(raw, parsed.message) : null;
      if (reply) this.send(s, JSON.stringify(reply));
      else this.badFrame(`an invalid message (${escapeForTerminal(parsed.message).slice(0, 200)})`);
      return;
    }
    const msg: ServerMessage = parsed.value;
    switch (msg.type) {
      case 'welcome':
        this.onWelcome(s, msg);
        return;
      case 'ack':
        if (s.welcomed) this.onAck(s, msg.seqs);
        return;
      case 'error':
        this.onError(s, msg);
        return;
      case 'request':
        if (s.welcomed) void this.onRequest(s, msg);
        return;
    }
  }

  private onWelcome(s: Session, w: Extract<ServerMessage, { type: 'welcome' }>): void {
    if (s.welcomed) return;
    if (!(PROTOCOL_VERSIONS as readonly number[]).includes(w.protocol)) {
      s.error = `the server chose protocol ${w.protocol}, which this agent does not speak`;
      s.ws.close(1000, 'unsupported protocol');
      return;
    }
    if (w.agent_id.toLowerCase() !== this.o.agentId.toLowerCase()) {
      s.error = `the server welcomed agent ${w.agent_id}, not this agent (${this.o.agentId})`;
      s.ws.close(1000, 'agent id mismatch');
      return;
    }
    s.welcomed = true;
    for (const t of s.timers) clearTimeout(t);
    s.timers = [];
    this.stats.welcomes++;
    let how = 'authenticated with its token';
    if (w.token) {
      try {
        this.o.identity.setToken(this.o.target.origin, w.token);
        this.useSecret = false;
        how = 'enrolled (token stored)';
      } catch (err) {
        this.o.log(`could not store the token from the server: ${(err as Error).message}`);
      }
    } else if (s.auth === 'secret') {
      how = 'accepted with the enroll secret (no token given)';
    }
    let allowed = 0;
    try {
      allowed = this.o.applyAllow(w.allow);
    } catch (err) {
      this.o.log(`could not apply the server's allow rules: ${(err as Error).message}`);
    }
    const pending = this.o.outbox.pending();
    this.o.log(`connected to ${this.o.target.origin}: ${how}; ${allowed} server allow rule${allowed === 1 ? '' : 's'}; ${pending} finding${pending === 1 ? '' : 's'} queued`);
    const skew = Date.now() - w.server_time;
    if (!this.skewLogged && Math.abs(skew) > 300_000) {
      this.skewLogged = true;
      this.o.log(`this host's clock differs from the server's by ${Math.round(skew / 1000)} s`);
    }
    this.setState('ready');
    this.emit('welcome', w);
    s.timers.push(
      setTimeout(() => {
        if (this.session === s) this.attempt = 0;
      }, this.t.goodSessionMs),
    );
    s.timers.push(setInterval(() => this.heartbeat(s), this.t.heartbeatMs));
    s.timers.push(setInterval(() => this.tick(s), this.t.pingMs));
    this.heartbeat(s);
    this.pump(s);
  }

  private heartbeat(s: Session): void {
    let pending = 0;
    let dropped = 0;
    try {
      const c = this.o.outbox.counters();
      pending = c.pending;
      dropped = c.dropped;
    } catch {
      // the figures are advisory
    }
    this.send(s, JSON.stringify({ type: 'heartbeat', ts: Date.now(), outbox: { pending, dropped } }));
  }

  /** Liveness: ping, count missed pongs, check the oldest unacked batch, and pump what may be waiting. */
  private tick(s: Session): void {
    if (this.session !== s || s.closed) return;
    const now = Date.now();
    if (s.awaitingPong && ++s.missed >= this.t.missedPongs) {
      s.error = `no pong to ${s.missed} pings in a row`;
      s.ws.terminate();
      return;
    }
    const oldest = s.batches[0];
    if (oldest && now - oldest.sentAt > this.t.ackTimeoutMs) {
      s.error = `a batch was not acked within ${Math.round(this.t.ackTimeoutMs / 1000)} s`;
      s.ws.terminate();
      return;
    }
    try {
      s.awaitingPong = true;
      s.ws.ping();
    } catch {
      // closing meanwhile
    }
    this.pump(s);
  }

  /** Sends batches after the session's cursor while the window has room. */
  private pump(s: Session): void {
    if (this.session !== s || !s.welcomed || s.closed || s.ws.readyState !== WebSocket.OPEN) return;
    while (s.batches.length < this.t.window) {
      let items;
      try {
        items = this.o.outbox.peekBatch(this.t.batchItems, this.batchBytes, s.cursor);
      } catch (err) {
        this.o.log(`cannot read the outbox: ${(err as Error).message}`);
        return;
      }
      if (items.length === 0) return;
      const frame = `{"type":"findings","items":[${items.map((i) => `{"seq":${i.seq},"finding":${i.json}}`).join(',')}]}`;
      const batch: Batch = { seqs: new Set(items.map((i) => i.seq)), sentAt: Date.now() };
      s.batches.push(batch);
      for (const seq of batch.seqs) s.bySeq.set(seq, batch);
      s.cursor = items[items.length - 1]!.seq;
      this.send(s, frame);
      this.stats.batchesSent++;
      this.stats.itemsSent += items.length;
    }
  }

  private settle(s: Session, seqs: readonly number[]): number[] {
    const known: number[] = [];
    for (const seq of seqs) {
      const batch = s.bySeq.get(seq);
      if (!batch) continue;
      batch.seqs.delete(seq);
      s.bySeq.delete(seq);
      known.push(seq);
    }
    s.batches = s.batches.filter((b) => b.seqs.size > 0);
    return known;
  }

  private onAck(s: Session, seqs: readonly number[]): void {
    // Only what this session sent: an ack can delete nothing else.
    const known = this.settle(s, seqs);
    if (known.length > 0) {
      try {
        this.o.outbox.ack(known);
      } catch (err) {
        this.o.log(`cannot delete acked findings from the outbox: ${(err as Error).message}`);
      }
      this.stats.itemsAcked += known.length;
      if (!s.gotAck) {
        s.gotAck = true;
        this.attempt = 0;
      }
      this.emit('ack', known);
    }
    this.pump(s);
  }

  private onError(s: Session, e: Extract<ServerMessage, { type: 'error' }>): void {
    const seqs = e.seqs ?? [];
    this.o.log(`server error ${e.code}: ${escapeForTerminal(e.message).slice(0, 300)}${seqs.length ? ` (${seqs.length} findings)` : ''}`);
    if (seqs.length === 0 || !s.welcomed) return;
    if (e.code === 'SOCKHUNT_E_PROTO_SCHEMA' || e.code === 'SOCKHUNT_E_PROTO_IDENTITY') {
      // Refused for good: sending them again would be refused again.
      const known = this.settle(s, seqs);
      try {
        const n = this.o.outbox.reject(known);
        if (n > 0) this.o.log(`the server refused ${n} finding${n === 1 ? '' : 's'} for good; removed from the outbox`);
      } catch (err) {
        this.o.log(`cannot remove refused findings from the outbox: ${(err as Error).message}`);
      }
      this.pump(s);
      return;
    }
    // Anything else (the server could not store them): start over with a fresh session, which resends them.
    s.error = `server error ${e.code}`;
    s.ws.close(1000, 'resending after a server error');
  }

  private async onRequest(s: Session, req: ServerRequest): Promise<void> {
    if (s.requests >= this.t.maxRequests) {
      this.send(s, JSON.stringify({ type: 'reply', request_id: req.request_id, ok: false, error: { code: 'SOCKHUNT_E_REQUEST_FAILED', message: 'busy: too many requests at once' } }));
      return;
    }
    s.requests++;
    let reply: Reply;
    try {
      reply = await this.o.handleRequest(req);
    } catch (err) {
      reply = { type: 'reply', request_id: req.request_id, ok: false, error: { code: 'SOCKHUNT_E_REQUEST_FAILED', message: String((err as Error)?.message ?? err).slice(0, 1000) } };
    } finally {
      s.requests--;
    }
    let text = JSON.stringify(reply);
    if (Buffer.byteLength(text) > MAX_PAYLOAD - 1024) {
      text = JSON.stringify({ type: 'reply', request_id: req.request_id, ok: false, error: { code: 'SOCKHUNT_E_REQUEST_FAILED', message: 'the answer is larger than a frame; narrow the request' } });
    }
    this.send(s, text);
  }

  private onClose(s: Session, code: number, reason: string): void {
    if (s.closed) return;
    s.closed = true;
    for (const t of s.timers) clearTimeout(t);
    s.timers = [];
    if (this.session === s) this.session = null;
    this.stats.lastClose = { code, reason };
    this.emit('close', { code, reason, welcomed: s.welcomed });
    if (this.stopped) {
      this.setState('stopped');
      return;
    }
    const why = `${closeName(code)}${reason ? ` "${escapeForTerminal(reason).slice(0, 200)}"` : ''}${s.error ? `; ${escapeForTerminal(s.error).slice(0, 300)}` : ''}`;
    if (code === CLOSE.TOO_BIG) this.batchBytes = Math.max(16 * 1024, Math.floor(this.batchBytes / 2));
    const permanent = PERMANENT_CLOSES.get(code);
    if (permanent) {
      if (code === CLOSE.UNAUTHENTICATED && s.auth === 'token' && this.o.enrollSecret && !this.useSecret) {
        this.useSecret = true;
        this.o.log(`the server did not accept the stored token (${why}); enrolling again with the enroll secret`);
        this.retry(false);
        return;
      }
      // After a refused secret, the next (hourly) attempt presents the stored token again, if there is one.
      if (s.auth === 'secret') this.useSecret = false;
      this.refused(`the server refused this agent: ${permanent}${reason ? ` "${escapeForTerminal(reason).slice(0, 200)}"` : ''}`);
      return;
    }
    const was = s.welcomed ? 'disconnected from the server' : s.openedAt === null ? 'cannot connect to the server' : 'the server closed the connection before welcome';
    this.retry(true, `${was} (${why})`);
  }

  private refused(why: string): void {
    const delay = Math.round(this.t.permanentRetryMs * (0.9 + 0.2 * this.random()));
    this.o.log(`${why}; still hunting and queueing findings (${this.o.outbox.pending()} queued); next attempt in ${formatSeconds(delay)}`);
    this.setState('refused');
    this.schedule(delay);
  }

  private retry(grow = true, why?: string): void {
    const delay = backoffDelay(this.attempt, this.t.backoffBaseMs, this.t.backoffCapMs, this.random);
    if (grow) this.attempt++;
    this.stats.attempt = this.attempt;
    if (why) this.o.log(`${why}; retrying in ${formatSeconds(delay)}`);
    this.setState('backoff');
    this.schedule(delay);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connectSafely(), delay);
  }

  /** Findings sent and not yet acked in the current session. */
  inFlight(): number {
    return this.session ? this.session.bySeq.size : 0;
  }

  /**
   * Stops: first waits up to `flushMs` for the outbox to drain while a session is up (what can be acked in that
   * time is), then closes with NORMAL. Findings not acked stay in the outbox for the next start.
   */
  async stop(flushMs = 2000): Promise<void> {
    if (this.stopped) return;
    const deadline = Date.now() + flushMs;
    const s = this.session;
    if (s?.welcomed) {
      this.pump(s);
      await new Promise<void>((resolve) => {
        const check = (): void => {
          let empty = false;
          try {
            empty = this.o.outbox.pending() === 0;
          } catch {
            empty = true;
          }
          if (empty || this.session !== s || Date.now() >= deadline) {
            clearInterval(timer);
            this.off('ack', check);
            resolve();
          }
        };
        const timer = setInterval(check, 50);
        this.on('ack', check);
        check();
      });
    }
    this.stopped = true;
    this.unsubscribe?.();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const open = this.session;
    if (open && !open.closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          open.ws.terminate();
          resolve();
        }, 1000);
        open.ws.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        try {
          open.ws.close(CLOSE.NORMAL, 'agent stopping');
        } catch {
          open.ws.terminate();
        }
      });
    }
    this.setState('stopped');
  }
}

function formatSeconds(ms: number): string {
  if (ms >= 120_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 1000).toFixed(1)} s`;
}
