import { eventIdTime } from '../../../core/event-id.js';
import { describe, expect, it } from 'vitest';
import { openAgentDb } from '../../../store/agent/db.js';
import { DetectorStateStore } from '../../../store/agent/detector-state.js';
import { FindingsStore, type NewFinding } from '../../../store/agent/findings.js';
import { HUNT_ID_PATTERN, formatHuntId } from '../../../core/finding.js';
import { agentDbEach } from '../../support/stores.js';

const fx = agentDbEach();

const DAY = new Date(Date.UTC(2026, 10, 28, 12));

function finding(overrides: Partial<NewFinding> = {}): NewFinding {
  return {
    huntId: 'TH-HUNTIN-20261128-0001',
    detector: 'beacon',
    processKey: '/usr/bin/python3.11 /tmp/b.py',
    destIp: '203.0.113.10',
    destPort: 8443,
    transport: 'tcp',
    risk: 'High',
    confidence: 'Medium',
    score: 0.8,
    firstSeen: 1_000,
    lastSeen: 1_000,
    count: 1,
    dedupeKey: 'beacon|/usr/bin/python3.11 /tmp/b.py|203.0.113.10|8443|tcp',
    doc: { hunt: { id: 'TH-HUNTIN-20261128-0001' } },
    ...overrides,
  };
}

describe('hunt ids', () => {
  it('formats TH-HUNTIN-YYYYMMDD-NNNN with the UTC date and a per-day sequence', () => {
    const findings = new FindingsStore(fx.db);
    expect(findings.nextHuntId(DAY)).toBe('TH-HUNTIN-20261128-0001');
    expect(findings.nextHuntId(DAY)).toBe('TH-HUNTIN-20261128-0002');
    // 23:30 on the 28th in UTC-5 is the 29th in UTC.
    expect(findings.nextHuntId(new Date('2026-11-28T23:30:00-05:00'))).toBe('TH-HUNTIN-20261129-0001');
    expect(findings.nextHuntId(new Date('2026-11-28T23:59:59.999Z'))).toBe('TH-HUNTIN-20261128-0003');
    expect(HUNT_ID_PATTERN.test(findings.nextHuntId(DAY))).toBe(true);
  });

  it('grows past 9999 to five digits and more', () => {
    const findings = new FindingsStore(fx.db);
    fx.db.sqlite.prepare("INSERT INTO hunt_sequence (day, seq) VALUES ('2026-11-28', 9998)").run();
    expect(findings.nextHuntId(DAY)).toBe('TH-HUNTIN-20261128-9999');
    expect(findings.nextHuntId(DAY)).toBe('TH-HUNTIN-20261128-10000');
    expect(HUNT_ID_PATTERN.test('TH-HUNTIN-20261128-10000')).toBe(true);
    expect(formatHuntId(DAY, 1_234_567)).toBe('TH-HUNTIN-20261128-1234567');
  });

  it('never repeats across handles of the same database', () => {
    const a = new FindingsStore(fx.db);
    const otherDb = openAgentDb(fx.file);
    const b = new FindingsStore(otherDb);
    const ids = new Set<string>();
    for (let i = 0; i < 50; i++) {
      ids.add(a.nextHuntId(DAY));
      ids.add(b.nextHuntId(DAY));
    }
    otherDb.close();
    expect(ids.size).toBe(100);
  });
});

describe('findings', () => {
  it('inserts, finds an open one within the suppression window, and updates it keeping the event id', () => {
    const findings = new FindingsStore(fx.db);
    const inserted = findings.insert(finding());
    expect(inserted.eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/); // UUIDv7 of its first sighting
    expect(eventIdTime(inserted.eventId)).toBe(1_000);
    expect(findings.findOpen(inserted.dedupeKey, 500)?.eventId).toBe(inserted.eventId);
    expect(findings.findOpen(inserted.dedupeKey, 1_001)).toBeNull();
    expect(findings.findOpen('other', 0)).toBeNull();

    expect(findings.update(inserted.eventId, { count: 2, lastSeen: 9_000, doc: { n: 2 }, risk: 'Critical' })).toBe(true);
    const updated = findings.get(inserted.eventId);
    expect(updated).toMatchObject({ count: 2, lastSeen: 9_000, firstSeen: 1_000, doc: { n: 2 }, risk: 'Critical', confidence: 'Medium', score: 0.8, updatedAt: 9_000 });
    expect(findings.update('00000000-0000-4000-8000-000000000000', { count: 1, lastSeen: 1, doc: {} })).toBe(false);
  });

  it('lists by time and minimum risk, newest first, with a limit', () => {
    const findings = new FindingsStore(fx.db);
    findings.insert(finding({ risk: 'Low', lastSeen: 1_000, dedupeKey: 'a' }));
    findings.insert(finding({ risk: 'Medium', lastSeen: 2_000, dedupeKey: 'b' }));
    findings.insert(finding({ risk: 'High', lastSeen: 3_000, dedupeKey: 'c' }));
    findings.insert(finding({ risk: 'Critical', lastSeen: 4_000, dedupeKey: 'd' }));
    expect(findings.list().map((f) => f.dedupeKey)).toEqual(['d', 'c', 'b', 'a']);
    expect(findings.list({ minRisk: 'High' }).map((f) => f.dedupeKey)).toEqual(['d', 'c']);
    expect(findings.list({ since: 2_000, minRisk: 'Medium' }).map((f) => f.dedupeKey)).toEqual(['d', 'c', 'b']);
    expect(findings.list({ limit: 1 }).map((f) => f.dedupeKey)).toEqual(['d']);
  });

  it('rejects a second finding with the same event id', () => {
    const findings = new FindingsStore(fx.db);
    const f = findings.insert(finding());
    expect(() => findings.insert(finding({ eventId: f.eventId }))).toThrow();
  });
});

describe('detector state', () => {
  it('keeps JSON values per detector across a reopen', () => {
    const state = new DetectorStateStore(fx.db);
    state.set('beacon', 'last-alert', { '/usr/bin/x': 1_000 });
    state.for('scan').set('threshold', 42);
    state.for('scan').set('gone', [1, 2]);
    expect(state.for('scan').delete('gone')).toBe(true);
    expect(state.for('scan').delete('gone')).toBe(false);
    expect(() => state.set('x', 'y', undefined as never)).toThrow(TypeError);
    fx.db.close();
    fx.db = openAgentDb(fx.file);
    const again = new DetectorStateStore(fx.db);
    expect(again.get('beacon', 'last-alert')).toEqual({ '/usr/bin/x': 1_000 });
    expect(again.for('scan').entries()).toEqual([['threshold', 42]]);
    expect(again.get('beacon', 'absent')).toBeUndefined();
  });
});
