// One catalogue of error codes. Every error sockhunt reports carries one of these stable codes and, where there is
// one, the underlying `cause`. Three kinds, one list:
// - `cli`: errors of a command (SockhuntError); the exit code follows DESIGN.md: 2 usage/input, 3 runtime.
// - `api`: REST API errors, with their HTTP status (server/http.ts ApiError).
// - `wire`: codes carried by the wire protocol's `error` messages and replies (core/protocol.ts).
// API_ERRORS and WIRE_ERRORS below are views of this catalogue, not lists of their own.

interface CliEntry {
  kind: 'cli';
  exit: 2 | 3;
  summary: string;
}
interface ApiEntry {
  kind: 'api';
  http: number;
  summary: string;
}
interface WireEntry {
  kind: 'wire';
  summary: string;
}
type Entry = CliEntry | ApiEntry | WireEntry;

export const ERROR_CATALOGUE = {
  SOCKHUNT_E_USAGE: { kind: 'cli', exit: 2, summary: 'bad command-line usage' },
  SOCKHUNT_E_CONFIG: { kind: 'cli', exit: 2, summary: 'invalid configuration file' },
  SOCKHUNT_E_INPUT: { kind: 'cli', exit: 2, summary: 'invalid input file or value' },
  SOCKHUNT_E_PLATFORM: { kind: 'cli', exit: 3, summary: 'no collector for this platform' },
  SOCKHUNT_E_COLLECT: { kind: 'cli', exit: 3, summary: 'the socket table could not be read' },
  SOCKHUNT_E_DB_OPEN: { kind: 'cli', exit: 3, summary: 'the database could not be opened' },
  SOCKHUNT_E_DB_CORRUPT: { kind: 'cli', exit: 3, summary: 'the database file is corrupt' },
  SOCKHUNT_E_DB_FOREIGN: { kind: 'cli', exit: 3, summary: 'the file is not a sockhunt database' },
  SOCKHUNT_E_DB_NEWER: { kind: 'cli', exit: 3, summary: 'the database was written by a newer sockhunt' },
  SOCKHUNT_E_DB_WRITE: { kind: 'cli', exit: 3, summary: 'the database could not be written (disk full or read-only?)' },
  SOCKHUNT_E_ADDON: { kind: 'cli', exit: 3, summary: 'a native addon could not be loaded' },
  SOCKHUNT_E_DNSTAP: { kind: 'cli', exit: 3, summary: 'DNS responses cannot be read (destination names unavailable)' },
  SOCKHUNT_E_RUNTIME: { kind: 'cli', exit: 3, summary: 'runtime failure' },
  // Reported by bin/sockhunt.js and scripts/package.mjs, which run before (or without) this module.
  SOCKHUNT_E_NOT_BUILT: { kind: 'cli', exit: 3, summary: 'the CLI bundle is not built (run `npm run build`)' },
  SOCKHUNT_E_PACKAGE: { kind: 'cli', exit: 3, summary: 'the single binary could not be built' },

  SOCKHUNT_E_API_INPUT: { kind: 'api', http: 400, summary: 'the request is invalid' },
  SOCKHUNT_E_API_AUTH: { kind: 'api', http: 401, summary: 'missing or wrong API token' },
  SOCKHUNT_E_API_NOT_FOUND: { kind: 'api', http: 404, summary: 'no such resource' },
  SOCKHUNT_E_API_METHOD: { kind: 'api', http: 405, summary: 'method not allowed on this resource' },
  SOCKHUNT_E_API_OFFLINE: { kind: 'api', http: 409, summary: 'the host is not connected' },
  SOCKHUNT_E_API_TOO_LARGE: { kind: 'api', http: 413, summary: 'the request body is too large' },
  SOCKHUNT_E_API_MEDIA_TYPE: { kind: 'api', http: 415, summary: 'the request body is not JSON' },
  SOCKHUNT_E_API_UNATTRIBUTED: { kind: 'api', http: 422, summary: 'the finding names no process to allow' },
  SOCKHUNT_E_API_INTERNAL: { kind: 'api', http: 500, summary: 'internal server error' },
  SOCKHUNT_E_API_AGENT: { kind: 'api', http: 502, summary: 'the agent answered with an error' },
  SOCKHUNT_E_API_STORE: { kind: 'api', http: 503, summary: 'the server store is unavailable' },
  SOCKHUNT_E_API_TIMEOUT: { kind: 'api', http: 504, summary: 'the agent did not answer in time' },

  SOCKHUNT_E_PROTO_JSON: { kind: 'wire', summary: 'a frame is not JSON' },
  SOCKHUNT_E_PROTO_SCHEMA: { kind: 'wire', summary: 'a frame or some of its items fail the schema' },
  SOCKHUNT_E_PROTO_STATE: { kind: 'wire', summary: 'a message out of order (e.g. before hello)' },
  SOCKHUNT_E_PROTO_RATE: { kind: 'wire', summary: 'the peer sends faster than allowed' },
  SOCKHUNT_E_PROTO_IDENTITY: { kind: 'wire', summary: 'an item claims another host or finding' },
  SOCKHUNT_E_PROTO_STORE: { kind: 'wire', summary: 'the server could not store the items' },
  SOCKHUNT_E_REQUEST_UNKNOWN: { kind: 'wire', summary: 'a request action this build does not know' },
  SOCKHUNT_E_REQUEST_FAILED: { kind: 'wire', summary: 'a request could not be carried out' },
} as const satisfies Record<string, Entry>;

type Catalogue = typeof ERROR_CATALOGUE;
type CodesOf<K extends Entry['kind']> = { [C in keyof Catalogue]: Catalogue[C]['kind'] extends K ? C : never }[keyof Catalogue];

export type AnyErrorCode = keyof Catalogue;
export type ErrorCode = CodesOf<'cli'>;
export type ApiErrorCode = CodesOf<'api'>;
export type WireErrorCode = CodesOf<'wire'>;

const codesOf = <K extends Entry['kind']>(kind: K): Array<CodesOf<K>> =>
  (Object.keys(ERROR_CATALOGUE) as AnyErrorCode[]).filter((c) => ERROR_CATALOGUE[c].kind === kind) as Array<CodesOf<K>>;

/** The command errors with their exit codes. */
export const ERROR_CODES: { readonly [C in ErrorCode]: { exit: 2 | 3; summary: string } } = ERROR_CATALOGUE;

/** The API errors' HTTP status, by code. */
export const API_ERRORS = Object.fromEntries(codesOf('api').map((c) => [c, ERROR_CATALOGUE[c].http])) as {
  readonly [C in ApiErrorCode]: number;
};

/** The codes `error` messages and replies may carry (a tuple, for the protocol's schema). */
export const WIRE_ERRORS = codesOf('wire') as [WireErrorCode, ...WireErrorCode[]];

export class SockhuntError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SockhuntError';
    this.code = code;
  }
  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }
}

export function isSockhuntError(err: unknown): err is SockhuntError {
  return err instanceof SockhuntError;
}
