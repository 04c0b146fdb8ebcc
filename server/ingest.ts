// One agent connection: hello (version, credentials), then findings batches, heartbeats and replies.
// Frames are processed one at a time in arrival order; a batch is committed in one transaction and only then
// acked. Nothing an agent sends can crash the server: every failure is an `error` frame or a close code.
import type { WebSocket, RawData } from 'ws';
import { isSockhuntError } from '../core/errors.js';
import { CLOSE, MAX_BATCH, PROTOCOL_VERSIONS, type Hello, type ServerMessage, type WireErrorCode } from '../core/protocol.js';
import { authenticate, hashSecret } from './auth.js';
import { batchOfHost, type PreparedBatch } from '../store/server/batch.js';
import type { AgentHub, AgentLink } from './hub.js';
import type { Presence } from './presence.js';
import { TokenBucket, WindowCounter } from './rate.js';
import type { ServerStore } from '../store/server/contract.js';
import type { FrameValidator } from './validator.js';
import type { Log } from './log.js';

export interface IngestLimits {
  /** Sustained messages per second per connection (token bucket rate). */
  messagesPerSec: number;
  /** Messages a connection may send at once (token bucket size). */
  burst: number;
  /** Messages dropped for rate within `rateWindowMs` after which the connection is closed (RATE_LIMITED). */
  rateStrikes: number;
  rateWindowMs: number;
  /** Invalid frames within `garbageWindowMs` after which the connection is closed (GARBAGE). */
  garbageFrames: number;
  garbageWindowMs: number;
  /** Frames waiting behind the one being processed; more count as rate violations. */
  maxQueued: number;
}

export const DEFAULT_LIMITS: IngestLimits = {
  messagesPerSec: 50,
  burst: 200,
  rateStrikes: 100,
  rateWindowMs: 10_000,
  garbageFrames: 10,
  garbageWindowMs: 60_000,
  maxQueued: 256,
};

export type { Log } from './log.js';

export interface IngestStats {
  connections: number;
  batches: number;
  stored: number;
  duplicates: number;
  rejected: number;
  errorsSent: number;
  /** Connections closed TOO_MANY_PENDING (their address had too many waiting for hello). */
  pendingRefused: number;
}

export interface SessionContext {
  store: ServerStore;
  hub: AgentHub;
  presence: Presence;
  enrollSecretHash: string | null;
  limits: IngestLimits;
  helloTimeoutMs: number;
  stats: IngestStats;
  validator: FrameValidator;
  log: Log;
  now(): number;
}

/** Largest first frame (the hello) the server reads; a hello with a large host's facts is a few KB. */
export const MAX_HELLO_BYTES = 256 * 1024;
/** How long a closed session waits for the peer's close frame before the socket is cut. */
export const CLOSE_GRACE_MS = 2000;
const MAX_REASON_BYTES = 123;
const RATE_ERROR_EVERY_MS = 1000;
/** Bytes of frames waiting per connection before its socket is paused. */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

export function closeReason(text: string): string {
  let out = text;
  while (Buffer.byteLength(out) > MAX_REASON_BYTES) out = out.slice(0, -1);
  return out;
}

function clip(text: string, max = 4000): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

type State = 'hello' | 'authenticating' | 'ready' | 'closed';

export class AgentSession implements AgentLink {
  agentId = '';
  /** Cleared by the ping timer, set by pong and by any frame: a socket that stays false is dead. */
  alive = true;
  private state: State = 'hello';
  private readonly bucket: TokenBucket;
  private readonly rateStrikes: WindowCounter;
  private readonly garbage: WindowCounter;
  private lastRateError = 0;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private queuedBytes = 0;
  private paused = false;
  private readonly helloTimer: NodeJS.Timeout;
  /** Called once when the connection stops waiting for its hello (welcomed or closed): the per-address count. */
  private leavePending: (() => void) | null;

  constructor(
    private readonly ws: WebSocket,
    private readonly ctx: SessionContext,
    readonly remote: string,
    onHelloDone?: () => void,
  ) {
    this.leavePending = onHelloDone ?? null;
    const now = ctx.now();
    this.bucket = new TokenBucket(ctx.limits.messagesPerSec, ctx.limits.burst, now);
    this.rateStrikes = new WindowCounter(ctx.limits.rateStrikes, ctx.limits.rateWindowMs);
    this.garbage = new WindowCounter(ctx.limits.garbageFrames, ctx.limits.garbageWindowMs);
    ctx.stats.connections++;
    this.helloTimer = setTimeout(() => {
      if (this.state === 'hello' || this.state === 'authenticating') this.close(CLOSE.HELLO_TIMEOUT, 'no hello in time');
    }, ctx.helloTimeoutMs);
    this.helloTimer.unref();
    ws.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    ws.on('pong', () => {
      this.alive = true;
    });
    ws.on('error', (err) => {
      // ws has already failed the connection (oversized frame → 1009, bad framing → 1002); just note it.
      ctx.log('warn', 'agent socket error', { agent: this.agentId || undefined, remote, error: err.message });
    });
    ws.on('close', () => this.onClose());
  }

  send(message: ServerMessage): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(JSON.stringify(message));
  }

  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    // A connection still waiting for its hello keeps its place in the address's count until the socket is gone
    // (onClose): a peer that ignores the close would otherwise hold sockets past the limit.
    clearTimeout(this.helloTimer);
    // The closing handshake needs the peer's close frame read.
    if (this.paused) {
      this.paused = false;
      this.ws.resume();
    }
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, closeReason(reason));
    // ws waits 30 s for the peer's close frame; an agent answers at once, so a peer that has not by then is cut.
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  ping(): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.ping();
  }

  terminate(): void {
    this.state = 'closed';
    this.helloDone();
    this.ws.terminate();
  }

  private helloDone(): void {
    const leave = this.leavePending;
    this.leavePending = null;
    leave?.();
  }

  private sendError(code: WireErrorCode, message: string, seqs?: number[]): void {
    this.ctx.stats.errorsSent++;
    this.send({ type: 'error', code, message: clip(message), ...(seqs && seqs.length > 0 ? { seqs: seqs.slice(0, MAX_BATCH) } : {}) });
  }

  /** An invalid frame: answered, counted, and the connection closed when they keep coming. */
  private bad(code: WireErrorCode, message: string, seqs?: number[]): void {
    this.sendError(code, message, seqs);
    if (this.garbage.hit(this.ctx.now())) {
      this.ctx.log('warn', 'closing a connection that keeps sending invalid frames', { agent: this.agentId, remote: this.remote });
      this.close(CLOSE.GARBAGE, `${this.ctx.limits.garbageFrames} invalid frames within ${this.ctx.limits.garbageWindowMs / 1000}s`);
    }
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    if (this.state === 'closed') return;
    this.alive = true;
    const now = this.ctx.now();
    if (!this.bucket.take(now) || this.queued >= this.ctx.limits.maxQueued) {
      if (this.rateStrikes.hit(now)) {
        this.close(CLOSE.RATE_LIMITED, `over ${this.ctx.limits.messagesPerSec} messages/s, repeatedly`);
        return;
      }
      if (now - this.lastRateError >= RATE_ERROR_EVERY_MS) {
        this.lastRateError = now;
        this.sendError('SOCKHUNT_E_PROTO_RATE', `over ${this.ctx.limits.messagesPerSec} messages/s: message dropped, slow down`);
      }
      return;
    }
    const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength;
    this.queued++;
    this.queuedBytes += size;
    // Backpressure: stop reading the socket while much is waiting (before authentication, anything beyond the
    // hello); TCP then slows the agent down instead of the server buffering its frames.
    if (this.queuedBytes > (this.state === 'ready' ? MAX_QUEUED_BYTES : 0) && !this.paused) {
      this.paused = true;
      this.ws.pause();
    }
    this.queue = this.queue
      .then(() => (this.state === 'closed' ? undefined : this.process(data, isBinary)))
      .catch((err: unknown) => {
        this.ctx.log('error', 'unexpected failure handling an agent frame', { agent: this.agentId, error: String((err as Error)?.stack ?? err) });
        this.close(CLOSE.GOING_AWAY, 'internal error');
      })
      .finally(() => {
        this.queued--;
        this.queuedBytes -= size;
        if (this.paused && this.queuedBytes <= MAX_QUEUED_BYTES / 2 && this.state === 'ready') {
          this.paused = false;
          this.ws.resume();
        }
      });
  }

  private async process(data: RawData, isBinary: boolean): Promise<void> {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (isBinary) {
      if (this.state === 'hello') return this.refuse(CLOSE.UNAUTHENTICATED, 'SOCKHUNT_E_PROTO_STATE', 'the first frame must be a hello (JSON text)');
      return this.bad('SOCKHUNT_E_PROTO_JSON', 'binary frames are not part of the protocol: send JSON text frames');
    }
    if (this.state === 'hello' && bytes.length > MAX_HELLO_BYTES) {
      // Not read: before credentials, nobody gets the server to parse megabytes.
      return this.refuse(CLOSE.UNAUTHENTICATED, 'SOCKHUNT_E_PROTO_STATE', `the first frame must be a hello of at most ${MAX_HELLO_BYTES} bytes`);
    }
    const frame = await this.ctx.validator.process(bytes);
    if ((this.state as State) === 'closed') return;
    if (this.state === 'hello') {
      if (frame.kind === 'invalid') return this.refuse(CLOSE.UNAUTHENTICATED, frame.code, `the first frame must be a valid hello: ${frame.message}`);
      if (frame.kind !== 'message' || frame.message.type !== 'hello') return this.refuse(CLOSE.UNAUTHENTICATED, 'SOCKHUNT_E_PROTO_STATE', 'the first frame must be a hello');
      return this.hello(frame.message);
    }
    switch (frame.kind) {
      case 'invalid':
        return this.bad(frame.code, frame.message);
      case 'findings':
        return this.findings(frame.batch);
      case 'partial':
        this.bad('SOCKHUNT_E_PROTO_SCHEMA', `${frame.rejected.length} of ${frame.total} findings rejected, never stored (${frame.problem})`, frame.rejected);
        if (frame.batch.seqs.length > 0 && (this.state as State) !== 'closed') return this.findings(frame.batch);
        return;
      case 'message':
        break;
    }
    const msg = frame.message;
    switch (msg.type) {
      case 'hello':
        return this.bad('SOCKHUNT_E_PROTO_STATE', 'hello was already received on this connection');
      case 'heartbeat':
        this.ctx.presence.touch(this.agentId, this.ctx.now(), msg.outbox);
        return;
      case 'reply':
        // A reply to a request that timed out (or was never sent to this agent) is dropped quietly.
        this.ctx.hub.deliverReply(this.agentId, msg);
        return;
    }
  }

  /** Closes a connection that has not authenticated, after telling it why. */
  private refuse(code: number, wire: WireErrorCode, message: string): void {
    this.sendError(wire, message);
    this.close(code, message);
  }

  private async hello(hello: Hello): Promise<void> {
    this.state = 'authenticating';
    const common = hello.protocol.filter((v) => (PROTOCOL_VERSIONS as readonly number[]).includes(v));
    if (common.length === 0) {
      this.close(CLOSE.UNSUPPORTED_VERSION, `no common protocol version: agent speaks ${hello.protocol.join(',')}, server ${PROTOCOL_VERSIONS.join(',')}`);
      return;
    }
    const version = Math.max(...common);
    const agentId = hello.agent.id.toLowerCase();
    const outcome = await authenticate(this.ctx.store, this.ctx.enrollSecretHash, { agentId, auth: hello.auth });
    if (!outcome.ok) {
      this.ctx.log('warn', 'agent refused', { agent: agentId, remote: this.remote, why: outcome.reason });
      this.close(CLOSE[outcome.close], outcome.reason);
      return;
    }
    const now = this.ctx.now();
    if (outcome.enrolled) {
      try {
        await this.ctx.store.enrollHost(
          { agentId, facts: hello.host, agentVersion: hello.agent.version, tokenHash: hashSecret(outcome.token!), now },
          { who: `agent:${agentId}`, action: 'host.enroll', target: agentId, detail: { hostname: hello.host.hostname, version: hello.agent.version, remote: this.remote } },
        );
      } catch (err) {
        // Two enrollments of one id at once: the other one won.
        this.close(CLOSE.UNAUTHENTICATED, 'agent id already enrolled: present its token');
        this.ctx.log('warn', 'enrollment failed', { agent: agentId, error: (err as Error).message });
        return;
      }
    } else {
      await this.ctx.store.recordConnect(agentId, hello.host, hello.agent.version, now);
    }
    if ((this.state as State) === 'closed') {
      // The socket went away while we were authenticating.
      await this.ctx.store.recordDisconnect(agentId, now);
      return;
    }
    this.agentId = agentId;
    const previous = this.ctx.hub.register(this);
    previous?.close(CLOSE.REPLACED, 'another connection of this agent took over');
    const allow = await this.ctx.store.allowRulesFor(agentId);
    if ((this.state as State) === 'closed') return;
    clearTimeout(this.helloTimer);
    this.state = 'ready';
    this.helloDone();
    this.send({
      type: 'welcome',
      protocol: version,
      agent_id: agentId,
      ...(outcome.token !== undefined ? { token: outcome.token } : {}),
      server_time: now,
      allow,
    });
    this.ctx.log('info', outcome.enrolled ? 'agent enrolled' : 'agent connected', { agent: agentId, host: hello.host.hostname, remote: this.remote });
  }

  private async findings(batch: PreparedBatch): Promise<void> {
    const stats = this.ctx.stats;
    stats.batches++;
    const seqs = batch.seqs;
    const mine = batchOfHost(batch, this.agentId);
    const foreign = mine === batch ? [] : seqs.filter((_, i) => batch.hostIds[i] !== this.agentId);
    const now = this.ctx.now();
    this.ctx.presence.touch(this.agentId, now);
    let result;
    try {
      // The batch's documents may be handed to the database thread: only seqs and host ids are read after this.
      result = mine.seqs.length > 0 ? await this.ctx.store.ingestBatch(this.agentId, mine, now) : { acked: [], rejected: [], stored: 0, duplicates: 0 };
    } catch (err) {
      // Transient (disk full, busy): nothing of the batch was kept; the agent resends it.
      this.ctx.log('error', 'storing a batch failed', { agent: this.agentId, error: (err as Error).message });
      this.sendError('SOCKHUNT_E_PROTO_STORE', isSockhuntError(err) ? err.message : 'the batch could not be stored; resend it later', seqs);
      return;
    }
    stats.stored += result.stored;
    stats.duplicates += result.duplicates;
    if (result.acked.length > 0) this.send({ type: 'ack', seqs: result.acked });
    const rejected = [...foreign, ...result.rejected.map((r) => r.seq)];
    if (rejected.length > 0) {
      stats.rejected += rejected.length;
      const why = foreign.length > 0 ? `host.id must be this agent's id (${this.agentId})` : (result.rejected[0]?.message ?? 'identity');
      this.bad('SOCKHUNT_E_PROTO_IDENTITY', `${rejected.length} finding(s) rejected, never stored: ${why}`, rejected);
    }
  }

  private onClose(): void {
    const wasReady = this.state === 'ready' || this.agentId !== '';
    this.state = 'closed';
    this.helloDone();
    clearTimeout(this.helloTimer);
    this.ctx.stats.connections--;
    if (!wasReady) return;
    if (this.ctx.hub.unregister(this)) {
      const agentId = this.agentId;
      this.ctx.store.recordDisconnect(agentId, this.ctx.now()).catch((err: unknown) => {
        this.ctx.log('error', 'recording a disconnect failed', { agent: agentId, error: (err as Error).message });
      });
    }
  }
}

