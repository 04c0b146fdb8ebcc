// Finding event ids: UUIDv7 (RFC 9562), a millisecond timestamp then random bits. Ids made close in time sort
// close together, so the server's event_id index takes each new finding near its right edge instead of on a
// random page (with random v4 ids that index probe was most of the cost of a findings insert at fleet rates).
// Still a valid UUID for anything that checks the form; 74 random bits keep ids unguessable and unique.
import { randomFillSync } from 'node:crypto';

const POOL = 16 * 256;
const pool = Buffer.alloc(POOL);
let at = POOL;
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A new UUIDv7 for `now` (ms since the epoch; the clock by default). */
export function newEventId(now: number = Date.now()): string {
  if (at === POOL) {
    randomFillSync(pool);
    at = 0;
  }
  const b = pool.subarray(at, at + 16);
  at += 16;
  let ms = Math.max(0, Math.floor(now));
  for (let i = 5; i >= 0; i--) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[6] = 0x70 | (b[6]! & 0x0f);
  b[8] = 0x80 | (b[8]! & 0x3f);
  const h = (i: number): string => HEX[b[i]!]!;
  return `${h(0)}${h(1)}${h(2)}${h(3)}-${h(4)}${h(5)}-${h(6)}${h(7)}-${h(8)}${h(9)}-${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`;
}

/** The millisecond timestamp a UUIDv7 carries, or null for any other UUID. */
export function eventIdTime(id: string): number | null {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(id)) return null;
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
