// A real server for tests on 127.0.0.1 port 0 (its database in a temp dir), protocol-speaking ws clients and an API
// client. Finding documents to send: ./findings.ts.
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import { buildServer, type ServerOptions, type SockhuntServer } from '../../server/app.js';
import { openSqliteServerStore, type SqliteServerStoreOptions } from '../../store/server/sqlite.js';
import type { ServerStore } from '../../store/server/contract.js';
import type { ServerMessage } from '../../core/protocol.js';
import { tempDir } from './tmp.js';

export const API_TOKEN = 'test-api-token-0123456789abcdef';
export const ENROLL_SECRET = 'test-enroll-secret-0123456789';

export interface TestServer {
  app: SockhuntServer;
  store: ServerStore;
  dir: string;
  dbPath: string;
  url: string;
  wsUrl: string;
  stop(): Promise<void>;
}

export async function startTestServer(opts: Partial<ServerOptions> = {}, dbPath?: string, storeOpts: SqliteServerStoreOptions = {}): Promise<TestServer> {
  const tmp = tempDir('sockhunt-server-');
  const file = dbPath ?? path.join(tmp.dir, 'server.db');
  const store = opts.store ?? openSqliteServerStore(file, storeOpts);
  // A store on its own thread answers once that thread has started (as `sockhunt server` waits for its settings).
  await store.activeHostCount();
  // Inline validation unless a test asks for workers: each worker costs a tsx start-up.
  const app = buildServer({ apiToken: API_TOKEN, enrollSecret: ENROLL_SECRET, validateWorkers: 0, ...opts, store });
  await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
  const { port } = app.server.address() as AddressInfo;
  const scheme = opts.tls ? 'https' : 'http';
  return {
    app,
    store,
    dir: tmp.dir,
    dbPath: file,
    url: `${scheme}://127.0.0.1:${port}`,
    wsUrl: `${scheme === 'https' ? 'wss' : 'ws'}://127.0.0.1:${port}/ws`,
    stop: async () => {
      await app.close();
      await store.close();
      tmp.remove();
    },
  };
}

export interface Closed {
  code: number;
  reason: string;
}

/** A WebSocket client that records every server message and the close. */
export class TestClient {
  readonly ws: WebSocket;
  readonly messages: ServerMessage[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<Closed>;
  private waiters: Array<() => void> = [];

  constructor(url: string, options: { maxPayload?: number; rejectUnauthorized?: boolean } = {}) {
    this.ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024, perMessageDeflate: false, ...options });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.ws.on('error', () => undefined);
    this.ws.on('message', (data) => {
      this.messages.push(JSON.parse(data.toString()) as ServerMessage);
      for (const w of this.waiters.splice(0)) w();
    });
    this.ws.on('close', () => {
      for (const w of this.waiters.splice(0)) w();
    });
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  /** Resolves with (and removes) the first recorded message of `type` that satisfies `pred`. */
  async next<T extends ServerMessage['type']>(
    type: T,
    pred: (m: Extract<ServerMessage, { type: T }>) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<Extract<ServerMessage, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.messages.findIndex((m) => m.type === type && pred(m as Extract<ServerMessage, { type: T }>));
      if (i >= 0) return this.messages.splice(i, 1)[0] as Extract<ServerMessage, { type: T }>;
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`connection closed while waiting for ${type}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type} within ${timeoutMs} ms (got ${JSON.stringify(this.messages).slice(0, 500)})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.ws.close();
  }
}

export const HOST_FACTS = { hostname: 'web-01', os: 'Linux', kernel: '6.8.0', platform: 'linux', arch: 'x64', ips: ['192.0.2.2'] };

export function hello(agentId: string, auth: { token: string } | { enroll_secret: string }, extra: { hostname?: string; protocol?: number[] } = {}) {
  return {
    type: 'hello',
    protocol: extra.protocol ?? [1],
    agent: { id: agentId, version: '0.1.0-test' },
    host: { ...HOST_FACTS, hostname: extra.hostname ?? HOST_FACTS.hostname },
    auth,
  };
}

/** Connects and enrolls (or presents a token); returns the client and the agent's token. */
export async function connectAgent(
  server: TestServer,
  agentId: string = randomUUID(),
  opts: { token?: string; hostname?: string } = {},
): Promise<{ client: TestClient; agentId: string; token: string }> {
  const client = new TestClient(server.wsUrl);
  await client.opened;
  client.send(hello(agentId, opts.token ? { token: opts.token } : { enroll_secret: ENROLL_SECRET }, { hostname: opts.hostname ?? 'web-01' }));
  const welcome = await client.next('welcome');
  return { client, agentId, token: opts.token ?? welcome.token! };
}

export async function api(server: TestServer, method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${urlPath}`, {
    method,
    headers: {
      Authorization: `Bearer ${API_TOKEN}`,
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, json, text };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
