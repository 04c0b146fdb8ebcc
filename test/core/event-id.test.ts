// Finding event ids are UUIDv7: time first, so the server's event_id index grows at its right edge.
import { describe, expect, it } from 'vitest';
import { eventIdTime, newEventId } from '../../core/event-id.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('event ids', () => {
  it('are UUIDv7 carrying their millisecond, unique, and sort by time', () => {
    const t0 = Date.UTC(2026, 10, 28, 12, 0, 0, 123);
    const id = newEventId(t0);
    expect(id).toMatch(V7);
    expect(eventIdTime(id)).toBe(t0);
    expect(eventIdTime(newEventId(0))).toBe(0);
    expect(eventIdTime(newEventId(2 ** 48 - 1))).toBe(2 ** 48 - 1);
    expect(eventIdTime('1d397db2-2ceb-4425-a22d-3841f022b08c')).toBeNull(); // v4

    const ids = Array.from({ length: 5000 }, (_, i) => newEventId(t0 + Math.floor(i / 10)));
    expect(new Set(ids).size).toBe(ids.length);
    // ids of later milliseconds sort after earlier ones as plain strings (the index's order)
    for (let i = 10; i < ids.length; i += 10) expect(ids[i - 10]! < ids[i]!).toBe(true);
    // the random part varies: not a counter
    const tails = new Set(ids.slice(0, 10).map((x) => x.slice(19)));
    expect(tails.size).toBe(10);
    expect(() => newEventId()).not.toThrow();
    expect(eventIdTime(newEventId())).toBeGreaterThan(t0 - 1);
  });
});
