// Answers the server's requests (live response) on the agent's socket:
//   snapshot        the socket table now, as `sockhunt snapshot` shows it, with optional filters; capped
//   baseline.query  what the baseline knows about a destination: which processes talked to it (the endpoint,
//                   its /24 or /48 network, the port), first and last seen, and the allow rules that cover it
//   baseline.allow  replaces the allow rules that came from the server
// The actions, their params and results are core/protocol.ts's REQUEST_ACTIONS; REQUEST_HANDLERS below holds one
// handler per action of that table (the types, and a test, hold them to it). Params are validated with the
// table's schema before the handler runs. Every failure becomes a reply with ok:false and a code; nothing here
// throws to the caller.
import type { Connection, SocketState } from '../collectors/types.js';
import type { AgentStore } from '../store/agent/index.js';
import { canonicalIp, cidrContains, parseIp, tryParseCidr } from '../core/ip.js';
import { endpointValue, networkValue, portValue } from '../store/agent/grains.js';
import {
  REQUEST_ACTIONS,
  isRequestAction,
  type Reply,
  type RequestAction,
  type RequestParams,
  type RequestResult,
  type ServerRequest,
  type WireErrorCode,
} from '../core/protocol.js';
import { parseState, rowFilter, type RowFilters } from './snapshot.js';
import { isSockhuntError } from '../core/errors.js';
import type { z } from 'zod';

export interface LiveResponseOptions {
  store: Pick<AgentStore, 'db' | 'baseline'>;
  /** The socket table now (the agent's collector with its configured network namespaces). */
  sampleRows(): Promise<Connection[]>;
  /** Most rows in a snapshot reply (default 2000). */
  maxRows?: number;
  /** Most bytes of rows in a snapshot reply (default 2 MiB; frames are limited to 4 MiB). */
  maxBytes?: number;
  /** How long a snapshot may take (default 30 s). */
  timeoutMs?: number;
  /** Most entries in each list of a baseline.query reply (default 500). */
  maxListed?: number;
  /** The name the host looked up for an address (the agent's DNS tap), shown as destination.domain. */
  domainOf?(ip: string): string | null;
}

class RequestError extends Error {
  constructor(
    readonly code: WireErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const ENDPOINT_RE = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})\/(tcp|udp)$/;

function validate<T>(schema: z.ZodType<T>, params: unknown): T {
  const r = schema.safeParse(params);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new RequestError('SOCKHUNT_E_PROTO_SCHEMA', issue ? `params.${issue.path.join('.') || '(params)'}: ${issue.message}` : 'invalid params');
  }
  return r.data;
}

function iso(ms: number | null | undefined): string | null {
  return typeof ms === 'number' && Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

function message(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.length > 1000 ? `${text.slice(0, 1000)}…` : text;
}

export class LiveResponder {
  private readonly maxRows: number;
  private readonly maxBytes: number;
  private readonly timeoutMs: number;
  private readonly maxListed: number;

  constructor(private readonly options: LiveResponseOptions) {
    this.maxRows = options.maxRows ?? 2000;
    this.maxBytes = options.maxBytes ?? 2 * 1024 * 1024;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxListed = options.maxListed ?? 500;
  }

  /** The reply to one request; never rejects. */
  async handle(req: ServerRequest): Promise<Reply> {
    try {
      const action: unknown = req.action;
      if (!isRequestAction(action)) throw new RequestError('SOCKHUNT_E_REQUEST_UNKNOWN', `unknown action ${JSON.stringify(action)}`);
      const result = await runHandler(this, action, req.params);
      return { type: 'reply', request_id: req.request_id, ok: true, result };
    } catch (err) {
      const code: WireErrorCode = err instanceof RequestError ? err.code : 'SOCKHUNT_E_REQUEST_FAILED';
      const text = isSockhuntError(err) ? `${message(err)} [${err.code}]` : message(err);
      return { type: 'reply', request_id: req.request_id, ok: false, error: { code, message: text } };
    }
  }

  /** `snapshot` (params validated). */
  async snapshot(params: RequestParams<'snapshot'>): Promise<RequestResult<'snapshot'>> {
    const { filters = {} } = params;
    const spec: RowFilters = {};
    if (filters.pid) spec.pids = filters.pid;
    if (filters.process !== undefined) spec.process = filters.process;
    if (filters.port !== undefined) spec.port = filters.port;
    if (filters.state) {
      spec.states = filters.state.map((s): SocketState => {
        try {
          return parseState(s);
        } catch (err) {
          throw new RequestError('SOCKHUNT_E_PROTO_SCHEMA', `params.filters.state: ${message(err)}`);
        }
      });
    }
    if (filters.remote !== undefined) {
      if (tryParseCidr(filters.remote) === null) {
        throw new RequestError('SOCKHUNT_E_PROTO_SCHEMA', `params.filters.remote: ${JSON.stringify(filters.remote)} is not an IP address or CIDR`);
      }
      spec.remote = filters.remote;
    }
    const match = rowFilter(spec);
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the socket table was not read within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    let all: Connection[];
    try {
      all = await Promise.race([this.options.sampleRows(), deadline]);
    } finally {
      clearTimeout(timer);
    }
    const matched = all.filter(match);
    const rows: Connection[] = [];
    let bytes = 0;
    for (const found of matched) {
      if (rows.length >= this.maxRows) break;
      const domain = this.options.domainOf?.(found.destination.ip) ?? null;
      const row = domain ? { ...found, destination: { ...found.destination, domain } } : found;
      const size = Buffer.byteLength(JSON.stringify(row));
      if (bytes + size > this.maxBytes) break;
      bytes += size;
      rows.push(row);
    }
    return {
      taken_at: new Date(started).toISOString(),
      total: matched.length,
      sockets: all.length,
      truncated: rows.length < matched.length,
      rows,
    };
  }

  /** `baseline.query` (params validated). */
  baselineQuery(p: RequestParams<'baseline.query'>): RequestResult<'baseline.query'> {
    const ip = canonicalIp(p.ip);
    if (ip === null) throw new RequestError('SOCKHUNT_E_PROTO_SCHEMA', `params.ip: ${JSON.stringify(p.ip)} is not an IP address`);
    this.options.store.baseline.flush(); // repeated counts are batched; the answer must include them
    const sql = this.options.store.db.sqlite;
    const limit = this.maxListed;
    type DestRow = { process_key: string; value: string; first_seen: number; last_seen: number; samples: number; connections: number };
    const prefix = ip.includes(':') ? `[${ip}]:` : `${ip}:`;
    const endpoints = sql
      .prepare<[number, string], DestRow>(
        `SELECT process_key, value, first_seen, last_seen, samples, connections FROM baseline_destination
         WHERE grain = 'endpoint' AND substr(value, 1, ?) = ? ORDER BY last_seen DESC`,
      )
      .all(prefix.length, prefix)
      .map((r) => {
        const m = ENDPOINT_RE.exec(r.value);
        return { row: r, port: Number(m?.[3]), transport: m?.[4] as 'tcp' | 'udp' | undefined };
      })
      .filter((e) => (p.port === undefined || e.port === p.port) && (p.transport === undefined || e.transport === p.transport));
    const entry = (r: DestRow) => ({
      process: r.process_key,
      first_seen: iso(r.first_seen),
      last_seen: iso(r.last_seen),
      samples: r.samples,
      connections: r.connections,
    });
    const network = networkValue(ip);
    const networkRows = network
      ? sql
          .prepare<[string, number], DestRow>(
            `SELECT process_key, value, first_seen, last_seen, samples, connections FROM baseline_destination
             WHERE grain = 'network' AND value = ? ORDER BY last_seen DESC LIMIT ?`,
          )
          .all(network, limit)
      : [];
    let ports: Array<ReturnType<typeof entry> & { port: string }> = [];
    if (p.port !== undefined) {
      const values = p.transport ? [portValue(p.port, p.transport)] : [portValue(p.port, 'tcp'), portValue(p.port, 'udp')];
      ports = values.flatMap((v) =>
        sql
          .prepare<[string, number], DestRow>(
            `SELECT process_key, value, first_seen, last_seen, samples, connections FROM baseline_destination
             WHERE grain = 'port' AND value = ? ORDER BY last_seen DESC LIMIT ?`,
          )
          .all(v, limit)
          .map((r) => ({ port: r.value, ...entry(r) })),
      );
    }
    const parsed = parseIp(ip);
    const allowedBy = this.options.store.baseline
      .listAllow()
      .filter((r) => {
        if (p.port !== undefined && r.port !== null && r.port !== p.port) return false;
        if (p.transport !== undefined && r.transport !== null && r.transport !== p.transport) return false;
        if (r.destination === '*') return true;
        const cidr = tryParseCidr(r.destination);
        return cidr !== null && parsed !== null && cidrContains(cidr, parsed);
      })
      .slice(0, limit)
      .map((r) => ({ id: r.id, process: r.process, destination: r.destination, port: r.port, transport: r.transport, source: r.source, comment: r.comment ?? null }));
    const summary = this.options.store.baseline.summary();
    return {
      ip,
      port: p.port ?? null,
      transport: p.transport ?? null,
      learning_ms: summary.learningMs,
      known: endpoints.length > 0 || networkRows.length > 0 || ports.length > 0,
      endpoints: endpoints.slice(0, limit).map((e) => ({
        endpoint: e.row.value,
        port: e.port,
        transport: e.transport ?? null,
        ...entry(e.row),
      })),
      network: network ? { value: network, processes: networkRows.map(entry) } : null,
      ports,
      allowed_by: allowedBy,
      endpoint_key: p.port !== undefined && p.transport !== undefined ? endpointValue(ip, p.port, p.transport) : null,
    };
  }

  /** `baseline.allow` (params validated). */
  baselineAllow({ rules }: RequestParams<'baseline.allow'>): RequestResult<'baseline.allow'> {
    try {
      const n = this.options.store.baseline.replaceAllow(
        'server',
        rules.map((r) => ({ process: r.process, destination: r.destination, port: r.port, transport: r.transport, comment: r.comment ?? null })),
      );
      return { rules: n };
    } catch (err) {
      if (isSockhuntError(err) && err.code === 'SOCKHUNT_E_INPUT') throw new RequestError('SOCKHUNT_E_PROTO_SCHEMA', `params.rules: ${message(err)}`);
      throw err;
    }
  }
}

/** What the agent does for each action of the request table (core/protocol.ts REQUEST_ACTIONS): one entry each. */
export type RequestHandlers = {
  [A in RequestAction]: (responder: LiveResponder, params: RequestParams<A>) => Promise<RequestResult<A>> | RequestResult<A>;
};

export const REQUEST_HANDLERS: RequestHandlers = {
  snapshot: (r, params) => r.snapshot(params),
  'baseline.query': (r, params) => r.baselineQuery(params),
  'baseline.allow': (r, params) => r.baselineAllow(params),
};

/** Validates the params with the action's schema, then runs its handler. */
async function runHandler<A extends RequestAction>(responder: LiveResponder, action: A, params: unknown): Promise<RequestResult<A>> {
  const handler = REQUEST_HANDLERS[action] as (responder: LiveResponder, params: RequestParams<A>) => Promise<RequestResult<A>> | RequestResult<A>;
  const schema = REQUEST_ACTIONS[action].params as unknown as z.ZodType<RequestParams<A>>;
  return handler(responder, validate(schema, params));
}

/**
 * A request this build cannot parse (an action added by a newer server, or bad params shape): when the frame
 * still names a request id, the reply that says so; otherwise null (nothing to answer).
 */
export function replyToUnparsedRequest(frame: unknown, reason: string): Reply | null {
  if (!frame || typeof frame !== 'object') return null;
  const f = frame as Record<string, unknown>;
  if (f.type !== 'request' || typeof f.request_id !== 'string') return null;
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(f.request_id)) return null;
  const code: WireErrorCode = typeof f.action === 'string' && !isRequestAction(f.action) ? 'SOCKHUNT_E_REQUEST_UNKNOWN' : 'SOCKHUNT_E_PROTO_SCHEMA';
  const text = code === 'SOCKHUNT_E_REQUEST_UNKNOWN' ? `unknown action ${JSON.stringify(f.action).slice(0, 100)}` : reason;
  return { type: 'reply', request_id: f.request_id, ok: false, error: { code, message: text.slice(0, 4000) } };
}
