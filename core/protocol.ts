// The wire contract between agent and server, shared by both sides. Every message is one JSON text frame,
// validated on receipt by exactly one schema here; nothing downstream re-checks.
//
// Agent → server: hello (first frame), findings (batches from the outbox), heartbeat, reply (to a request).
// Server → agent: welcome (answer to hello), ack (per batch, after commit), error, request (live response,
// baseline allow pushes).
import { z } from 'zod';
import { WIRE_ERRORS } from './errors.js';
import { FindingDocSchema } from './finding.js';
import type { Connection } from './connection.js';

/** Protocol versions this build speaks; hello carries the agent's list, welcome the one chosen. */
export const PROTOCOL_VERSIONS = [1] as const;
export const PROTOCOL_VERSION = 1;

/** WebSocket close codes (4000–4999 are the application's). */
export const CLOSE = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  TOO_BIG: 1009,
  UNSUPPORTED_VERSION: 4000,
  UNAUTHENTICATED: 4001,
  REVOKED: 4002,
  GARBAGE: 4003,
  HELLO_TIMEOUT: 4004,
  IDENTITY_MISMATCH: 4005,
  REPLACED: 4006,
  RATE_LIMITED: 4008,
  /** More connections from the peer's address are waiting for their hello than the server allows. */
  TOO_MANY_PENDING: 4009,
} as const;

/** Error codes carried by `error` messages and replies: the catalogue's wire codes (core/errors.ts). */
export { WIRE_ERRORS, type WireErrorCode } from './errors.js';

/** Largest frame either side accepts (ws `maxPayload`). A batch is sized to stay well under it. */
export const MAX_PAYLOAD = 4 * 1024 * 1024;
export const MAX_BATCH = 500;
/**
 * Deepest nesting (objects and arrays) a message may have. Ours stay under 12; far deeper documents break
 * recursive readers downstream (JSON.stringify in the API, a SIEM's parser), so they are refused on receipt.
 */
export const MAX_JSON_DEPTH = 32;

const Uuid = z.uuid();
const Seq = z.int().min(1).max(Number.MAX_SAFE_INTEGER);
const ShortText = z.string().max(1024);

export const HostFactsSchema = z.strictObject({
  hostname: z.string().min(1).max(255),
  os: ShortText,
  kernel: ShortText,
  platform: z.string().max(32),
  arch: z.string().max(32),
  ips: z.array(z.string().max(64)).max(256),
});
export type HostFactsWire = z.infer<typeof HostFactsSchema>;

export const HelloSchema = z.strictObject({
  type: z.literal('hello'),
  protocol: z.array(z.int().min(1)).min(1).max(16),
  agent: z.strictObject({ id: Uuid, version: z.string().max(64) }),
  host: HostFactsSchema,
  auth: z.union([z.strictObject({ token: z.string().min(16).max(256) }), z.strictObject({ enroll_secret: z.string().min(1).max(256) })]),
});

export const FindingsBatchSchema = z.strictObject({
  type: z.literal('findings'),
  items: z.array(z.strictObject({ seq: Seq, finding: FindingDocSchema })).min(1).max(MAX_BATCH),
});

export const HeartbeatSchema = z.strictObject({
  type: z.literal('heartbeat'),
  ts: z.int(),
  outbox: z.strictObject({ pending: z.int().min(0), dropped: z.int().min(0) }),
});

const WireError = z.strictObject({ code: z.string().max(64), message: z.string().max(4096) });

export const ReplySchema = z.strictObject({
  type: z.literal('reply'),
  request_id: Uuid,
  ok: z.boolean(),
  result: z.unknown().optional(),
  error: WireError.optional(),
});

export const AgentMessageSchema = z.discriminatedUnion('type', [HelloSchema, FindingsBatchSchema, HeartbeatSchema, ReplySchema]);
export type AgentMessage = z.infer<typeof AgentMessageSchema>;
export type Hello = z.infer<typeof HelloSchema>;
export type FindingsBatch = z.infer<typeof FindingsBatchSchema>;
export type Reply = z.infer<typeof ReplySchema>;

export const AllowRuleWireSchema = z.strictObject({
  process: z.string().min(1).max(4096),
  destination: z.string().min(1).max(64),
  port: z.int().min(1).max(65535).nullable(),
  transport: z.enum(['tcp', 'udp']).nullable(),
  comment: z.string().max(1024).nullable().optional(),
});
export type AllowRuleWire = z.infer<typeof AllowRuleWireSchema>;

export const WelcomeSchema = z.strictObject({
  type: z.literal('welcome'),
  protocol: z.int().min(1),
  agent_id: Uuid,
  /** Present once, on enrollment: the agent keeps it and presents it from then on. */
  token: z.string().min(16).max(256).optional(),
  server_time: z.int(),
  /** The fleet-wide and per-host allow rules this agent must hold (replaces its `server` allow rules). */
  allow: z.array(AllowRuleWireSchema).max(10_000),
});

export const AckSchema = z.strictObject({ type: z.literal('ack'), seqs: z.array(Seq).min(1).max(MAX_BATCH) });

export const ErrorSchema = z.strictObject({
  type: z.literal('error'),
  code: z.enum(WIRE_ERRORS),
  message: z.string().max(4096),
  seqs: z.array(Seq).max(MAX_BATCH).optional(),
});

// ---- Server → agent requests ------------------------------------------------------------------------------
//
// One table of request actions: name → params (validated by the agent before it acts; a violation is a reply with
// SOCKHUNT_E_PROTO_SCHEMA) and the result of an ok reply. The request schema's action list, the agent's handlers
// (agent/live-response.ts, one list keyed by this table) and the server's hub.request are all keyed by it: a new
// action is one entry here plus its handler.

export const SnapshotParamsSchema = z.strictObject({
  filters: z
    .strictObject({
      pid: z.array(z.int().min(0)).max(1000).optional(),
      process: z.string().max(256).optional(),
      state: z.array(z.string().max(32)).max(16).optional(),
      remote: z.string().max(64).optional(),
      port: z.int().min(0).max(65535).optional(),
    })
    .optional(),
});
export const BaselineQueryParamsSchema = z.strictObject({
  ip: z.string().min(1).max(64),
  port: z.int().min(0).max(65535).optional(),
  transport: z.enum(['tcp', 'udp']).optional(),
});
export const BaselineAllowParamsSchema = z.strictObject({ rules: z.array(AllowRuleWireSchema).max(10_000) });

const Transport = z.enum(['tcp', 'udp']);

export const SnapshotResultSchema = z.object({
  taken_at: z.string(),
  /** Rows that matched the filters; `rows` holds at most the agent's caps of them. */
  total: z.int().min(0),
  sockets: z.int().min(0),
  truncated: z.boolean(),
  /** core/connection.ts rows (destination.domain added when the agent saw the name). */
  rows: z.array(z.custom<Connection>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'a socket row')).max(500_000),
});

const BaselineEntry = z.object({
  process: z.string(),
  first_seen: z.string().nullable(),
  last_seen: z.string().nullable(),
  samples: z.number(),
  connections: z.number(),
});

export const BaselineQueryResultSchema = z.object({
  ip: z.string(),
  port: z.int().nullable(),
  transport: Transport.nullable(),
  learning_ms: z.number(),
  known: z.boolean(),
  endpoints: z.array(BaselineEntry.extend({ endpoint: z.string(), port: z.number(), transport: Transport.nullable() })),
  network: z.object({ value: z.string(), processes: z.array(BaselineEntry) }).nullable(),
  ports: z.array(BaselineEntry.extend({ port: z.string() })),
  allowed_by: z.array(
    z.object({
      id: z.number(),
      process: z.string(),
      destination: z.string(),
      port: z.int().nullable(),
      transport: Transport.nullable(),
      source: z.string(),
      comment: z.string().nullable(),
    }),
  ),
  endpoint_key: z.string().nullable(),
});

export const BaselineAllowResultSchema = z.object({ rules: z.int().min(0) });

export interface RequestActionSpec {
  /** What the agent does, in a line. */
  summary: string;
  params: z.ZodType<Record<string, unknown>>;
  result: z.ZodType;
}

export const REQUEST_ACTIONS = {
  snapshot: {
    summary: 'the socket table now, as `sockhunt snapshot` shows it, with optional filters; capped',
    params: SnapshotParamsSchema,
    result: SnapshotResultSchema,
  },
  'baseline.query': {
    summary: 'what the baseline knows about a destination: the processes that talked to it, its network and port, the allow rules that cover it',
    params: BaselineQueryParamsSchema,
    result: BaselineQueryResultSchema,
  },
  'baseline.allow': {
    summary: 'replaces the allow rules that came from the server',
    params: BaselineAllowParamsSchema,
    result: BaselineAllowResultSchema,
  },
} as const satisfies Record<string, RequestActionSpec>;

export type RequestAction = keyof typeof REQUEST_ACTIONS;
export const REQUEST_ACTION_NAMES = Object.keys(REQUEST_ACTIONS) as [RequestAction, ...RequestAction[]];
/** The params of `A` as the agent's handler gets them (validated) … */
export type RequestParams<A extends RequestAction> = z.output<(typeof REQUEST_ACTIONS)[A]['params']>;
/** … and as a sender may write them (defaults not yet applied). */
export type RequestParamsInput<A extends RequestAction> = z.input<(typeof REQUEST_ACTIONS)[A]['params']>;
/** The result of an ok reply to `A`. */
export type RequestResult<A extends RequestAction> = z.input<(typeof REQUEST_ACTIONS)[A]['result']>;

export function isRequestAction(action: unknown): action is RequestAction {
  return typeof action === 'string' && Object.hasOwn(REQUEST_ACTIONS, action);
}

export const RequestSchema = z.strictObject({
  type: z.literal('request'),
  request_id: Uuid,
  action: z.enum(REQUEST_ACTION_NAMES),
  params: z.record(z.string(), z.unknown()).default({}),
});

export const ServerMessageSchema = z.discriminatedUnion('type', [WelcomeSchema, AckSchema, ErrorSchema, RequestSchema]);
export type ServerMessage = z.infer<typeof ServerMessageSchema>;
export type Welcome = z.infer<typeof WelcomeSchema>;
export type ServerRequest = z.infer<typeof RequestSchema>;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; code: 'SOCKHUNT_E_PROTO_JSON' | 'SOCKHUNT_E_PROTO_SCHEMA'; message: string };

/** Parses one frame with one schema: bad JSON and schema violations come back as coded errors, never throws. */
export function parseFrame<T>(schema: z.ZodType<T>, data: string | Buffer): ParseResult<T> {
  let value: unknown;
  try {
    value = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch (err) {
    return { ok: false, code: 'SOCKHUNT_E_PROTO_JSON', message: `not JSON: ${(err as Error).message.slice(0, 200)}` };
  }
  return checkMessage(schema, value);
}

/** Checks a parsed frame against one schema; the first issue as a coded error. */
export function checkMessage<T>(schema: z.ZodType<T>, value: unknown): ParseResult<T> {
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    return { ok: false, code: 'SOCKHUNT_E_PROTO_SCHEMA', message: issue ? `${issue.path.join('.') || '(message)'}: ${issue.message}` : 'invalid message' };
  }
  return { ok: true, value: r.data };
}
