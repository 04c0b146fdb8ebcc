// Per-detector key/value state (JSON) that survives restarts, e.g. a detector's last alert times.
import type { AgentDb } from './db.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface DetectorState {
  get<T extends JsonValue = JsonValue>(key: string): T | undefined;
  set(key: string, value: JsonValue): void;
  delete(key: string): boolean;
  entries(): Array<[string, JsonValue]>;
}

function encode(value: JsonValue): string {
  const text = JSON.stringify(value);
  // JSON.stringify drops undefined and functions silently: refuse rather than store something else.
  if (text === undefined) throw new TypeError('detector state: value is not JSON-serialisable');
  return text;
}

export class DetectorStateStore {
  private readonly getStmt;
  private readonly setStmt;
  private readonly deleteStmt;
  private readonly listStmt;

  constructor(private readonly db: AgentDb) {
    const s = db.sqlite;
    this.getStmt = s.prepare<[string, string], string>('SELECT value FROM detector_state WHERE detector = ? AND key = ?').pluck();
    this.setStmt = s.prepare<[string, string, string, number]>(
      `INSERT INTO detector_state (detector, key, value, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (detector, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
    );
    this.deleteStmt = s.prepare<[string, string]>('DELETE FROM detector_state WHERE detector = ? AND key = ?');
    this.listStmt = s.prepare<[string], { key: string; value: string }>(
      'SELECT key, value FROM detector_state WHERE detector = ? ORDER BY key',
    );
  }

  get<T extends JsonValue = JsonValue>(detector: string, key: string): T | undefined {
    const text = this.getStmt.get(detector, key) as string | undefined;
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  set(detector: string, key: string, value: JsonValue, now = Date.now()): void {
    const text = encode(value);
    this.db.transaction(() => this.setStmt.run(detector, key, text, now));
  }

  delete(detector: string, key: string): boolean {
    return this.db.transaction(() => this.deleteStmt.run(detector, key).changes > 0);
  }

  entries(detector: string): Array<[string, JsonValue]> {
    return this.listStmt.all(detector).map((r) => [r.key, JSON.parse(r.value) as JsonValue]);
  }

  /** The state of one detector, to hand to it. */
  for(detector: string): DetectorState {
    return {
      get: <T extends JsonValue = JsonValue>(key: string) => this.get<T>(detector, key),
      set: (key, value) => this.set(detector, key, value),
      delete: (key) => this.delete(detector, key),
      entries: () => this.entries(detector),
    };
  }
}
