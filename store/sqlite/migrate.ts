// The migrations runner both sockhunt databases share: an ordered list, `PRAGMA user_version` = the number of the
// last one applied, `PRAGMA application_id` stamped by the first. Never edit a released migration: append one.
import type Database from 'better-sqlite3';

export interface Migration {
  version: number;
  description: string;
  up(db: Database.Database): void;
}

/** Throws when the list is not numbered 1, 2, 3, … in order. */
export function validateMigrations(list: readonly Migration[]): void {
  list.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration #${i} has version ${m.version}, expected ${i + 1}`);
  });
}

/**
 * Applies the migrations `db` lacks, one immediate transaction each; the first (version 1) also sets
 * `application_id`. Safe against another process migrating the same file at the same time.
 */
export function runMigrations(db: Database.Database, list: readonly Migration[], applicationId: number): void {
  for (;;) {
    const applied = db
      .transaction(() => {
        // Re-read inside the write lock: another process may have migrated meanwhile.
        const current = db.pragma('user_version', { simple: true }) as number;
        const next = list[current];
        if (!next) return false;
        next.up(db);
        if (current === 0) db.pragma(`application_id = ${applicationId}`);
        db.pragma(`user_version = ${next.version}`);
        return true;
      })
      .immediate();
    if (!applied) return;
  }
}
