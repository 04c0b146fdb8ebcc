// One catalogue of error codes. Every error sockhunt reports carries one of these stable codes and, where
// there is one, the underlying `cause`. Exit codes follow DESIGN.md: 2 usage/input, 3 runtime.
export const ERROR_CODES = {
  SOCKHUNT_E_USAGE: { exit: 2, summary: 'bad command-line usage' },
  SOCKHUNT_E_CONFIG: { exit: 2, summary: 'invalid configuration file' },
  SOCKHUNT_E_INPUT: { exit: 2, summary: 'invalid input file or value' },
  SOCKHUNT_E_PLATFORM: { exit: 3, summary: 'no collector for this platform' },
  SOCKHUNT_E_COLLECT: { exit: 3, summary: 'the socket table could not be read' },
  SOCKHUNT_E_DB_OPEN: { exit: 3, summary: 'the database could not be opened' },
  SOCKHUNT_E_DB_CORRUPT: { exit: 3, summary: 'the database file is corrupt' },
  SOCKHUNT_E_DB_FOREIGN: { exit: 3, summary: 'the file is not a sockhunt database' },
  SOCKHUNT_E_DB_NEWER: { exit: 3, summary: 'the database was written by a newer sockhunt' },
  SOCKHUNT_E_DB_WRITE: { exit: 3, summary: 'the database could not be written (disk full or read-only?)' },
  SOCKHUNT_E_ADDON: { exit: 3, summary: 'a native addon could not be loaded' },
  SOCKHUNT_E_DNSTAP: { exit: 3, summary: 'DNS responses cannot be read (destination names unavailable)' },
  SOCKHUNT_E_RUNTIME: { exit: 3, summary: 'runtime failure' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

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
