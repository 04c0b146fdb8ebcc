// Opens the server store a URL or path names: the one place that knows which backends exist.
import { fileURLToPath } from 'node:url';
import { SockhuntError } from '../../core/errors.js';
import type { ServerStore } from './contract.js';
import { openSqliteServerStore, type SqliteServerStoreOptions } from './sqlite.js';

export type { ServerStore } from './contract.js';
export type { SqliteServerStoreOptions } from './sqlite.js';

/**
 * A plain path, `sqlite:PATH` or `file:` URL → SQLite at that path. `postgres://` / `postgresql://` →
 * SOCKHUNT_E_USAGE: that backend is not built yet. Any other scheme → SOCKHUNT_E_USAGE.
 */
export function openServerStore(url: string, opts: SqliteServerStoreOptions = {}): ServerStore {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  // (a one-letter "scheme" is a Windows drive, i.e. a path)
  if (scheme === undefined || scheme.length === 1) return openSqliteServerStore(url, opts);
  if (scheme === 'sqlite') {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw new SockhuntError('SOCKHUNT_E_USAGE', `${url}: a sqlite: URL needs a path (sqlite:/var/lib/sockhunt/server.db)`);
    return openSqliteServerStore(path, opts);
  }
  if (scheme === 'file') return openSqliteServerStore(fileURLToPath(url), opts);
  if (scheme === 'postgres' || scheme === 'postgresql') {
    throw new SockhuntError('SOCKHUNT_E_USAGE', 'PostgreSQL is not built yet: the server store is SQLite (pass a path or sqlite:PATH)');
  }
  throw new SockhuntError('SOCKHUNT_E_USAGE', `${scheme}: is not a server store (pass a path or sqlite:PATH)`);
}
