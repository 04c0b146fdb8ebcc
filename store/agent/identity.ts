// What the agent keeps about the servers it enrolled with: one token per server origin (scheme://host:port), so
// that a token is never presented to another server. The database holds the token, so its files are private.
import { chmodSync } from 'node:fs';
import type { AgentDb } from './db.js';
import { SockhuntError } from '../../core/errors.js';

/** `ws://host:port` / `wss://host:port`, the default port made explicit, host lower-cased. */
export function serverOrigin(url: URL): string {
  const port = url.port || (url.protocol === 'wss:' ? '443' : '80');
  return `${url.protocol}//${url.hostname.toLowerCase()}:${port}`;
}

export class AgentIdentityStore {
  constructor(private readonly db: AgentDb) {}

  token(server: string): string | null {
    const row = this.db.sqlite.prepare<[string], { token: string }>('SELECT token FROM server_identity WHERE server = ?').get(server);
    return row?.token ?? null;
  }

  setToken(server: string, token: string, now = Date.now()): void {
    this.db.transaction(() =>
      this.db.sqlite
        .prepare(
          `INSERT INTO server_identity (server, token, enrolled_at) VALUES (?, ?, ?)
           ON CONFLICT (server) DO UPDATE SET token = excluded.token, enrolled_at = excluded.enrolled_at`,
        )
        .run(server, token, now),
    );
    protectDatabaseFiles(this.db.path);
  }

  forget(server: string): boolean {
    return this.db.transaction(() => this.db.sqlite.prepare('DELETE FROM server_identity WHERE server = ?').run(server).changes > 0);
  }
}

/** chmod 0600 the database and its -wal / -shm (those that exist): it holds the agent's server token. */
export function protectDatabaseFiles(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      chmodSync(file, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && file !== path) continue;
      throw new SockhuntError('SOCKHUNT_E_DB_OPEN', `${file}: cannot make the database private (chmod 600)`, { cause: err });
    }
  }
}
