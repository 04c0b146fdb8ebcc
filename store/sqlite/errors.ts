// Maps SQLite failures to the error catalogue. Write failures (disk full, read-only, I/O) become
// SOCKHUNT_E_DB_WRITE so that callers keep their data in memory and retry; corruption is never retried.
import { SockhuntError } from '../../core/errors.js';

function sqliteCode(err: unknown): string | null {
  if (typeof err !== 'object' || err === null) return null;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : null;
}

const WRITE_CODES = ['SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_IOERR', 'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_CANTOPEN'];
const CORRUPT_CODES = ['SQLITE_CORRUPT', 'SQLITE_NOTADB'];

function matches(code: string, family: readonly string[]): boolean {
  return family.some((f) => code === f || code.startsWith(`${f}_`));
}

/** Returns the error to throw for a failed database operation (`what` says which, for the message). */
export function mapSqliteError(err: unknown, what: string, path: string): unknown {
  if (err instanceof SockhuntError) return err;
  const code = sqliteCode(err);
  if (code === null) return err;
  const detail = err instanceof Error ? err.message : String(err);
  if (matches(code, CORRUPT_CODES)) {
    return new SockhuntError('SOCKHUNT_E_DB_CORRUPT', `${path}: database is corrupt (${what}: ${code}: ${detail})`, { cause: err });
  }
  if (matches(code, WRITE_CODES)) {
    return new SockhuntError('SOCKHUNT_E_DB_WRITE', `${path}: ${what} failed (${code}: ${detail})`, { cause: err });
  }
  return err;
}
