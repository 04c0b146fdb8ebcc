import { describe, expect, it } from 'vitest';
import { rate } from '../../../agent/detect/rate.js';
import { resolveParams } from '../../../agent/detect/index.js';
import { FakeBaseline, FakeHistory, context, matureBaseline, type HistoryEntry } from '../../support/detect.js';
import { HOSTILE, NOW } from '../../support/rows.js';
import { SCENARIOS } from './scenarios.js';

const P = resolveParams(rate);
const KEY = '/usr/bin/python3';

function spread(n: number, ip: string, port: number, windowMs = 59_000): HistoryEntry {
  return { key: KEY, ip, port, ts: Array.from({ length: n }, (_, i) => NOW - windowMs + Math.floor((i * windowMs) / n)) };
}

function detect(entries: HistoryEntry[], learnedPerMin: number | null, params = P, baseline?: FakeBaseline) {
  const b = baseline ?? matureBaseline(learnedPerMin === null ? {} : { [KEY]: { endpoints: [], connectionRate: learnedPerMin } });
  return rate.detect(context({ history: new FakeHistory(entries), baseline: b }), params);
}

describe('rate', () => {
  it('reports a spike far above the learned rate', () => {
    const [d] = rate.detect(SCENARIOS.rate!(), P);
    expect(d!.technique.map((t) => t.id)).toEqual(['T1498']);
    expect(d!.risk).toBe('Medium');
    expect(d!.evidence[0]!['rate']).toMatchObject({ connections_in_window: 240, learned_per_min: 3 });
    expect(d!.dedupeGroup).toBe('rate');
  });

  it('reports a burst at one login service as brute force (T1110)', () => {
    const [d] = detect([spread(90, '10.0.0.5', 22)], 1);
    expect(d!.technique.map((t) => t.id)).toEqual(['T1110']);
    expect(d!.dedupeGroup).toBe('brute:10.0.0.5:22');
    expect(d!.recommendedAction).toContain('authentication logs');
  });

  it('needs an absolute minimum, so an idle process does not alarm on a few connections', () => {
    expect(detect([spread(12, '198.51.100.1', 443)], 0.1)).toEqual([]);
  });

  it('stays quiet within the learned range', () => {
    expect(detect([spread(60, '198.51.100.1', 443)], 20)).toEqual([]);
    expect(detect([spread(110, '198.51.100.1', 443)], 20)).toHaveLength(1);
  });

  it('uses a higher minimum for processes with no learned rate, and counts only the window', () => {
    expect(detect([spread(100, '198.51.100.1', 443)], null)).toEqual([]);
    expect(detect([spread(150, '198.51.100.1', 443)], null)).toHaveLength(1);
    expect(detect([{ ...spread(150, '198.51.100.1', 443), ts: spread(150, '198.51.100.1', 443).ts.map((t) => t - 120_000) }], null)).toEqual([]);
  });

  it('ignores loopback unless asked to', () => {
    expect(detect([spread(200, '127.0.0.1', 5432)], 1)).toEqual([]);
    expect(detect([spread(200, '127.0.0.1', 5432)], 1, { ...P, includeLoopback: true })).toHaveLength(1);
  });

  it('does not count allowed destinations', () => {
    const allow = matureBaseline({ [KEY]: { connectionRate: 1 } }, [{ key: KEY, ip: '198.51.100.1' }]);
    expect(detect([spread(200, '198.51.100.1', 443)], 1, P, allow)).toEqual([]);
  });

  it('with an empty baseline judges against the unknown-process minimum, at lower confidence', () => {
    expect(detect([spread(100, '198.51.100.1', 443)], null, P, new FakeBaseline())).toEqual([]);
    const [empty] = detect([spread(400, '198.51.100.1', 443)], null, P, new FakeBaseline());
    const [learned] = detect([spread(400, '198.51.100.1', 443)], 2);
    expect(empty!.confidence).toBe('Medium');
    expect(learned!.confidence).toBe('High');
  });

  it('lowers confidence when the starts were traces the loop could not attribute', () => {
    const traces = { ...spread(400, '198.51.100.1', 443), attribution: Array<'none'>(400).fill('none') };
    const [d] = detect([traces], 2);
    expect(d!.confidence).toBe('Medium');
  });

  it('carries hostile strings unchanged', () => {
    const [d] = rate.detect(SCENARIOS.rate!({ name: HOSTILE, cmd: HOSTILE }), P);
    expect(d!.recommendedAction).toContain(HOSTILE);
  });
});
