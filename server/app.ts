// Builds the aggregation server — WebSocket ingest at /ws, the REST API under /api, the web page at / —
// without listening (tests listen on port 0; server/main.ts on the configured address). Background timers
// (pings, last-seen flushes, fleet re-scoring, retention) run while the server listens.
import { prevalenceRules } from './fleet.js';
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CLOSE, MAX_PAYLOAD } from '../core/protocol.js';
import { handleApi, type ApiContext } from './api.js';
import { hashSecret } from './auth.js';
import { ApiError, sendApiError, sendJson } from './http.js';
import { AgentHub } from './hub.js';
import { AgentSession, CLOSE_GRACE_MS, DEFAULT_LIMITS, closeReason, type IngestLimits, type IngestStats, type Log, type SessionContext } from './ingest.js';
import { Presence } from './presence.js';
import { findWebRoot, staticHandler } from './static.js';
import { defaultValidatorWorkers, workerValidator } from './validator.js';
import type { ServerStore } from '../store/server/contract.js';

export interface ServerOptions {
  store: ServerStore;
  /** Plain enroll secret, or its SHA-256 hex (as stored); neither: enrollment is off (tokens only). */
  enrollSecret?: string;
  enrollSecretHash?: string;
  /** Plain API token, or its SHA-256 hex (as stored). One of the two is required. */
  apiToken?: string;
  apiTokenHash?: string;
  /** PEM certificate and key: the server speaks https/wss. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  limits?: Partial<IngestLimits>;
  /** A connection must send hello within this (default 10 s). */
  helloTimeoutMs?: number;
  /**
   * Connections from one remote address that may wait for their hello at once (default 256); more are closed
   * 4009 TOO_MANY_PENDING. Bounds what one address can hold open without credentials.
   */
  maxPendingPerIp?: number;
  /** ws ping interval; a socket that did not answer the previous ping is terminated (default 30 s). */
  pingIntervalMs?: number;
  /** Live response: how long to wait for the agent's reply (default 10 s). */
  requestTimeoutMs?: number;
  /** Findings and audit older than this are pruned (default 90 days). */
  retentionMs?: number;
  /** Seen (agent, seq) pairs are kept this long for dedupe (default 7 days). */
  seqRetentionMs?: number;
  pruneIntervalMs?: number;
  presenceFlushMs?: number;
  fleetRefreshMs?: number;
  maxBodyBytes?: number;
  /** Worker threads that parse and validate agent frames (default: cores − 1, 1–4); 0 validates inline. */
  validateWorkers?: number;
  /** Directory of index.html, app.js, app.css (default: server/web). */
  webRoot?: string;
  log?: Log;
  now?: () => number;
  version?: string;
}

export interface SockhuntServer {
  /** The http(s) server; listen on it (port 0 in tests). */
  readonly server: http.Server | https.Server;
  readonly hub: AgentHub;
  readonly stats: IngestStats;
  /** Frame-validation worker threads running (0: validation runs inline). */
  readonly validatorWorkers: number;
  /** Runs the fleet re-scoring pass to completion now (tests; otherwise it runs on a timer). */
  refreshFleet(): Promise<void>;
  /** Runs retention now. */
  prune(): Promise<void>;
  /** Closes agent connections (GOING_AWAY), stops timers, flushes last-seen; the store stays open. */
  close(): Promise<void>;
}

const DAY = 86_400_000;
export const DEFAULT_MAX_PENDING_PER_IP = 256;

export const silentLog: Log = () => undefined;

export function buildServer(opts: ServerOptions): SockhuntServer {
  const apiTokenHash = opts.apiTokenHash ?? (opts.apiToken !== undefined ? hashSecret(opts.apiToken) : undefined);
  if (apiTokenHash === undefined) throw new Error('buildServer: apiToken or apiTokenHash is required');
  const enrollSecretHash = opts.enrollSecretHash ?? (opts.enrollSecret !== undefined ? hashSecret(opts.enrollSecret) : null);
  const now = opts.now ?? Date.now;
  const log = opts.log ?? silentLog;
  const version = opts.version ?? '0.0.0-dev';
  const store = opts.store;
  // Fleet policy is the server's (server/fleet.ts); the store applies it to what it ingests and re-scores.
  store.setPrevalenceRules(prevalenceRules()).catch((err: unknown) => log('error', 'setting the fleet policy failed', { error: String(err) }));
  const hub = new AgentHub();
  const presence = new Presence();
  const stats: IngestStats = { connections: 0, batches: 0, stored: 0, duplicates: 0, rejected: 0, errorsSent: 0, pendingRefused: 0 };
  const sessions = new Set<AgentSession>();
  const validator = workerValidator(opts.validateWorkers ?? defaultValidatorWorkers(), log);

  const sessionCtx: SessionContext = {
    store,
    hub,
    presence,
    enrollSecretHash,
    limits: { ...DEFAULT_LIMITS, ...opts.limits },
    helloTimeoutMs: opts.helloTimeoutMs ?? 10_000,
    stats,
    log,
    validator,
    now,
  };
  const apiCtx: ApiContext = {
    store,
    hub,
    apiTokenHash,
    requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
    maxBodyBytes: opts.maxBodyBytes ?? 64 * 1024,
    stats,
    validatorWorkers: () => validator.workers,
    log,
    now,
    version,
  };
  const serveStatic = staticHandler(opts.webRoot ?? findWebRoot());

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://sockhunt.invalid');
    } catch {
      sendApiError(res, new ApiError('SOCKHUNT_E_API_INPUT', 'malformed request target'));
      return;
    }
    handleApi(req, res, url, apiCtx)
      .then((handled) => {
        if (handled || serveStatic(req, res, url.pathname)) return;
        sendJson(res, 404, { error: { code: 'SOCKHUNT_E_API_NOT_FOUND', message: 'not found' } });
      })
      .catch((err: unknown) => {
        log('error', 'request failed', { error: String(err) });
        if (!res.headersSent) sendApiError(res, new ApiError('SOCKHUNT_E_API_INTERNAL', 'internal error'));
        else res.destroy();
      });
  };

  const server = opts.tls ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key }, onRequest) : http.createServer(onRequest);
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = 5_000;

  // perMessageDeflate off: a zlib context per socket would cost ~300 KB each across thousands of agents.
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD, perMessageDeflate: false, clientTracking: false });

  // Connections per remote address that have not completed their hello (welcomed or closed).
  const maxPendingPerIp = opts.maxPendingPerIp ?? DEFAULT_MAX_PENDING_PER_IP;
  const pendingByIp = new Map<string, number>();
  let lastPendingLog = 0;
  const refusePending = (ws: WebSocket, ip: string): void => {
    stats.pendingRefused++;
    ws.on('error', () => undefined);
    ws.close(CLOSE.TOO_MANY_PENDING, closeReason(`too many connections from ${ip} waiting for hello (at most ${maxPendingPerIp}); retry later`));
    // A peer that does not answer the close handshake is cut.
    setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
    const t = now();
    if (t - lastPendingLog >= 10_000) {
      lastPendingLog = t;
      log('warn', 'refusing connections: too many from one address are waiting for hello', { remote: ip, limit: maxPendingPerIp, refused: stats.pendingRefused });
    }
  };

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    let path = '';
    try {
      path = new URL(req.url ?? '/', 'http://sockhunt.invalid').pathname;
    } catch {
      // falls through to 404
    }
    if (path !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const ip = req.socket.remoteAddress ?? '?';
      const remote = `${ip}:${req.socket.remotePort ?? '?'}`;
      const waiting = pendingByIp.get(ip) ?? 0;
      if (waiting >= maxPendingPerIp) {
        refusePending(ws, ip);
        return;
      }
      pendingByIp.set(ip, waiting + 1);
      const session = new AgentSession(ws, sessionCtx, remote, () => {
        const left = (pendingByIp.get(ip) ?? 1) - 1;
        if (left > 0) pendingByIp.set(ip, left);
        else pendingByIp.delete(ip);
      });
      sessions.add(session);
      ws.on('close', () => sessions.delete(session));
    });
  });

  // ---- background work while listening ----
  const timers: NodeJS.Timeout[] = [];
  let refreshing: Promise<void> | null = null;
  const every = (ms: number, fn: () => void): void => {
    const t = setInterval(fn, ms);
    t.unref();
    timers.push(t);
  };
  const guard = (what: string, p: Promise<unknown>): void => {
    p.catch((err: unknown) => log('error', `${what} failed`, { error: (err as Error).message }));
  };

  const refreshFleet = (): Promise<void> => {
    if (refreshing) return refreshing;
    refreshing = (async () => {
      try {
        for (;;) {
          const r = await store.refreshFleet(2000);
          if (!r.more) return;
          // Let ingest in between chunks.
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  };
  const retentionMs = opts.retentionMs ?? 90 * DAY;
  const seqRetentionMs = opts.seqRetentionMs ?? 7 * DAY;
  const prune = async (): Promise<void> => {
    const r = await store.prune(now(), retentionMs, seqRetentionMs);
    if (r.findings + r.audit > 0) log('info', 'retention pruned old records', { ...r });
  };

  server.on('listening', () => {
    if (timers.length > 0) return;
    guard('marking hosts offline', store.markAllOffline(now()));
    every(opts.pingIntervalMs ?? 30_000, () => {
      for (const s of sessions) {
        if (!s.alive) {
          s.terminate();
          continue;
        }
        s.alive = false;
        s.ping();
      }
    });
    every(opts.presenceFlushMs ?? 5_000, () => guard('recording last-seen', presence.flush(store)));
    every(opts.fleetRefreshMs ?? 10_000, () => guard('fleet re-scoring', refreshFleet()));
    every(opts.pruneIntervalMs ?? 3_600_000, () => guard('retention', prune()));
    guard('retention', prune());
  });

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (const t of timers.splice(0)) clearInterval(t);
      hub.closeAll(CLOSE.GOING_AWAY, 'server shutting down');
      for (const s of sessions) s.close(CLOSE.GOING_AWAY, 'server shutting down');
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        // Sockets that do not finish the close handshake are cut after a moment.
        setTimeout(() => {
          for (const s of sessions) s.terminate();
        }, 1000).unref();
      });
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      if (refreshing) await refreshing.catch(() => undefined);
      await validator.close();
      await presence.flush(store).catch(() => undefined);
      await store.markAllOffline(now()).catch(() => undefined);
    })();
    return closing;
  };

  return {
    server,
    hub,
    stats,
    get validatorWorkers() {
      return validator.workers;
    },
    refreshFleet,
    prune,
    close,
  };
}
