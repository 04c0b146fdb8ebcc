// Small HTTP helpers for the REST API: the error catalogue, JSON responses, bounded bodies, zod-checked input.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { API_ERRORS, type ApiErrorCode } from '../core/errors.js';

export { API_ERRORS, type ApiErrorCode } from '../core/errors.js';

export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
  get status(): number {
    return API_ERRORS[this.code];
  }
}

export const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

export function sendApiError(res: ServerResponse, err: ApiError): void {
  sendJson(res, err.status, { error: { code: err.code, message: err.message } }, err.headers);
}

/** The request body as parsed JSON (undefined when empty); 413 past `maxBytes`, 415 when not JSON. */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    throw new ApiError('SOCKHUNT_E_API_TOO_LARGE', `request body over ${maxBytes} bytes`, { Connection: 'close' });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      req.resume();
      throw new ApiError('SOCKHUNT_E_API_TOO_LARGE', `request body over ${maxBytes} bytes`, { Connection: 'close' });
    }
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const type = String(req.headers['content-type'] ?? '');
  if (!/^application\/json\b/i.test(type)) throw new ApiError('SOCKHUNT_E_API_MEDIA_TYPE', 'request bodies are JSON: send Content-Type: application/json');
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch (err) {
    throw new ApiError('SOCKHUNT_E_API_INPUT', `request body is not JSON: ${(err as Error).message.slice(0, 200)}`);
  }
}

/** Validates input with one schema; the first issue becomes a 400 naming the field. */
export function validate<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${what}.${issue.path.join('.')}` : what;
  throw new ApiError('SOCKHUNT_E_API_INPUT', `${where}: ${issue?.message ?? 'invalid'}`);
}

/** Query parameters as an object (a repeated parameter is an error: each filter takes one value). */
export function queryObject(url: URL): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const [k, v] of url.searchParams) {
    if (Object.hasOwn(out, k)) throw new ApiError('SOCKHUNT_E_API_INPUT', `query parameter "${k.slice(0, 64)}" given more than once`);
    out[k] = v;
  }
  return out;
}
