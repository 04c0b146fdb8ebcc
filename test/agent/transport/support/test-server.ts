// A small server that speaks core/protocol.ts, for the transport tests. It does what the agent relies on
// (enrollment with a secret and a token, welcome with allow rules, batches committed to SQLite before the ack,
// dedupe by agent+seq, upsert by event.id, requests and their replies) and can misbehave on demand in ways the
// real server will not: hold acks, lose acks, refuse every hello with a close code, send garbage.
import Database from 'better-sqlite3';
import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  AgentMessageSchema,
  CLOSE,
  MAX_PAYLOAD,
  PROTOCOL_VERSION,
  parseFrame,
  type AllowRuleWire,
  type Reply,
} from '../../../../core/protocol.js';

export interface TestServerOptions {
  host?: string;
  port?: number;
  /** SQLite file (survives a kill -9 of a child process running this); default in memory. */
  dbPath?: string;
  enrollSecret: string;
  allow?: AllowRuleWire[];
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Commit batches but send no ack until released. */
  holdAcks?: boolean;
  /** Commit the first N batches but lose their acks. */
  loseAcks?: number;
  /** Close every hello with this code (e.g. CLOSE.REVOKED). */
  refuseWith?: number;
}

export interface StoredFinding {
  event_id: string;
  agent_id: string;
  count: number;
  last_seen: string;
  seq: number;
  doc: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS agents (agent_id TEXT PRIMARY KEY, token TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS received (agent_id TEXT NOT NULL, seq INTEGER NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (agent_id, seq));
CREATE TABLE IF NOT EXISTS findings (event_id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, count INTEGER NOT NULL, last_seen TEXT NOT NULL, seq INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS heartbeats (ts INTEGER NOT NULL, agent_id TEXT NOT NULL, pending INTEGER NOT NULL, dropped INTEGER NOT NULL);
`;

export class TestServer extends EventEmitter {
  readonly db: Database.Database;
  private readonly http: HttpServer;
  private readonly wss: WebSocketServer;
  private readonly sockets = new Map<string, WebSocket>();
  private readonly pending = new Map<string, (reply: Reply) => void>();
  private held: Array<{ ws: WebSocket; seqs: number[] }> = [];
  port = 0;
  holdAcks: boolean;
  loseAcks: number;
  refuseWith: number | null;
  allow: AllowRuleWire[];

  private constructor(readonly options: TestServerOptions) {
    super();
    this.holdAcks = options.holdAcks ?? false;
    this.loseAcks = options.loseAcks ?? 0;
    this.refuseWith = options.refuseWith ?? null;
    this.allow = options.allow ?? [];
    this.db = new Database(options.dbPath ?? ':memory:');
    this.db.pragma('journal_mode = WAL');
    this.db.exec(SCHEMA);
    this.http = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }) : createHttpServer();
    this.wss = new WebSocketServer({ server: this.http, maxPayload: MAX_PAYLOAD });
    this.wss.on('connection', (ws) => this.onConnection(ws));
  }

  static async start(options: TestServerOptions): Promise<TestServer> {
    const server = new TestServer(options);
    await new Promise<void>((resolve, reject) => {
      server.http.once('error', reject);
      server.http.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    server.port = (server.http.address() as AddressInfo).port;
    return server;
  }

  get url(): string {
    return `${this.options.tls ? 'wss' : 'ws'}://127.0.0.1:${this.port}`;
  }

  private bump(name: string, by = 1): void {
    this.db.prepare('INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value').run(name, by);
  }

  counter(name: string): number {
    return (this.db.prepare('SELECT value FROM counters WHERE name = ?').pluck().get(name) as number | undefined) ?? 0;
  }

  findings(): StoredFinding[] {
    return this.db.prepare('SELECT * FROM findings ORDER BY seq').all() as StoredFinding[];
  }

  connectedAgents(): string[] {
    return [...this.sockets.keys()];
  }

  private onConnection(ws: WebSocket): void {
    let agentId: string | null = null;
    ws.on('message', (data, isBinary) => {
      if (isBinary) return ws.close(CLOSE.GARBAGE, 'binary');
      const parsed = parseFrame(AgentMessageSchema, data as Buffer);
      if (!parsed.ok) {
        this.emit('garbage', parsed.message);
        ws.send(JSON.stringify({ type: 'error', code: parsed.code, message: parsed.message.slice(0, 4000) }));
        return;
      }
      const msg = parsed.value;
      if (agentId === null) {
        if (msg.type !== 'hello') return ws.close(CLOSE.GARBAGE, 'hello first');
        this.emit('hello', msg);
        if (this.refuseWith !== null) return ws.close(this.refuseWith, 'refused by the test server');
        if (!msg.protocol.includes(PROTOCOL_VERSION)) return ws.close(CLOSE.UNSUPPORTED_VERSION, 'no common version');
        const id = msg.agent.id;
        const known = this.db.prepare('SELECT token, revoked FROM agents WHERE agent_id = ?').get(id) as { token: string; revoked: number } | undefined;
        let token: string | undefined;
        if (known?.revoked) return ws.close(CLOSE.REVOKED, 'revoked');
        if ('token' in msg.auth) {
          if (!known || known.token !== msg.auth.token) return ws.close(CLOSE.UNAUTHENTICATED, 'unknown token');
        } else {
          if (msg.auth.enroll_secret !== this.options.enrollSecret) return ws.close(CLOSE.UNAUTHENTICATED, 'bad enroll secret');
          token = randomBytes(24).toString('base64url');
          this.db.prepare('INSERT INTO agents (agent_id, token) VALUES (?, ?) ON CONFLICT (agent_id) DO UPDATE SET token = excluded.token').run(id, token);
          this.bump('enrollments');
        }
        agentId = id;
        this.sockets.get(id)?.close(CLOSE.REPLACED, 'replaced');
        this.sockets.set(id, ws);
        ws.send(JSON.stringify({ type: 'welcome', protocol: PROTOCOL_VERSION, agent_id: id, ...(token ? { token } : {}), server_time: Date.now(), allow: this.allow }));
        this.emit('welcome', { agentId: id, enrolled: token !== undefined });
        return;
      }
      switch (msg.type) {
        case 'findings':
          this.ingest(ws, agentId, msg.items);
          return;
        case 'heartbeat':
          this.db.prepare('INSERT INTO heartbeats (ts, agent_id, pending, dropped) VALUES (?, ?, ?, ?)').run(msg.ts, agentId, msg.outbox.pending, msg.outbox.dropped);
          this.emit('heartbeat', msg);
          return;
        case 'reply': {
          const resolve = this.pending.get(msg.request_id);
          this.pending.delete(msg.request_id);
          resolve?.(msg);
          return;
        }
        case 'hello':
          ws.close(CLOSE.GARBAGE, 'second hello');
          return;
      }
    });
    ws.on('close', () => {
      if (agentId !== null && this.sockets.get(agentId) === ws) this.sockets.delete(agentId);
      this.emit('disconnect', agentId);
    });
  }

  private ingest(ws: WebSocket, agentId: string, items: Array<{ seq: number; finding: { event: { id: string }; hunt: { count: number; last_seen: string }; host: { id: string } } }>): void {
    const insertSeq = this.db.prepare('INSERT OR IGNORE INTO received (agent_id, seq, event_id) VALUES (?, ?, ?)');
    const upsert = this.db.prepare(
      `INSERT INTO findings (event_id, agent_id, count, last_seen, seq, doc) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (event_id) DO UPDATE SET count = excluded.count, last_seen = excluded.last_seen, seq = excluded.seq, doc = excluded.doc
       WHERE excluded.count >= findings.count`,
    );
    const rejected: number[] = [];
    const acked: number[] = [];
    this.db.transaction(() => {
      for (const { seq, finding } of items) {
        if (finding.host.id !== agentId) {
          rejected.push(seq);
          continue;
        }
        acked.push(seq);
        if (insertSeq.run(agentId, seq, finding.event.id).changes === 0) {
          this.bump('duplicates');
          continue;
        }
        this.bump('received');
        if (upsert.run(finding.event.id, agentId, finding.hunt.count, finding.hunt.last_seen, seq, JSON.stringify(finding)).changes === 0) this.bump('stale');
      }
      this.bump('batches');
    })();
    this.emit('batch', { agentId, seqs: items.map((i) => i.seq) });
    if (rejected.length) ws.send(JSON.stringify({ type: 'error', code: 'SOCKHUNT_E_PROTO_IDENTITY', message: 'finding of another host', seqs: rejected }));
    if (acked.length === 0) return;
    if (this.loseAcks > 0) {
      this.loseAcks--;
      this.bump('lost_acks');
      return;
    }
    if (this.holdAcks) {
      this.held.push({ ws, seqs: acked });
      return;
    }
    ws.send(JSON.stringify({ type: 'ack', seqs: acked }));
  }

  /** Stops holding acks and sends the held ones (to sockets still open). */
  releaseAcks(): void {
    this.holdAcks = false;
    for (const h of this.held) if (h.ws.readyState === h.ws.OPEN) h.ws.send(JSON.stringify({ type: 'ack', seqs: h.seqs }));
    this.held = [];
  }

  /** Sends a request to the agent (the only one connected, unless named) and waits for its reply. */
  request(action: string, params: unknown, agentId?: string, timeoutMs = 30_000): Promise<Reply> {
    const id = agentId ?? this.connectedAgents()[0];
    const ws = id ? this.sockets.get(id) : undefined;
    if (!ws) return Promise.reject(new Error('no agent connected'));
    const requestId = randomUUID();
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new Error(`no reply to ${action} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(requestId, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      ws.send(JSON.stringify({ type: 'request', request_id: requestId, action, params }));
    });
  }

  /** Sends raw text to the agent (garbage tests). */
  sendRaw(text: string, agentId?: string): void {
    const id = agentId ?? this.connectedAgents()[0];
    const ws = id ? this.sockets.get(id) : undefined;
    ws?.send(text);
  }

  /** Closes the agent's socket with a code (without stopping the server). */
  kick(code: number, reason = 'kicked', agentId?: string): void {
    const id = agentId ?? this.connectedAgents()[0];
    if (id) this.sockets.get(id)?.close(code, reason);
  }

  /** Drops the agent's TCP connection without a close frame. */
  cut(agentId?: string): void {
    const id = agentId ?? this.connectedAgents()[0];
    if (id) this.sockets.get(id)?.terminate();
  }

  /** Stops reading the agent's socket: no pongs, no acks, no close (a dead link that still looks open). */
  freeze(agentId?: string): void {
    const id = agentId ?? this.connectedAgents()[0];
    const ws = id ? this.sockets.get(id) : undefined;
    (ws as unknown as { _socket?: { pause(): void } } | undefined)?._socket?.pause();
  }

  /** Forgets every enrolled agent (a server that lost its database). */
  forgetAgents(): void {
    this.db.prepare('DELETE FROM agents').run();
  }

  revoke(agentId: string): void {
    this.db.prepare('UPDATE agents SET revoked = 1 WHERE agent_id = ?').run(agentId);
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.db.close();
  }
}
