import { describe, expect, it } from 'vitest';
import { formatSpan } from '../../../agent/detect/drafts.js';
import { formatDuration } from '../../../core/duration.js';

describe('formatSpan (finding text)', () => {
  it('writes one rounded unit: seconds under 120 s, minutes under 2 h, then hours to one decimal', () => {
    expect(formatSpan(0)).toBe('0s');
    expect(formatSpan(45_400)).toBe('45s');
    expect(formatSpan(119_000)).toBe('119s');
    expect(formatSpan(120_000)).toBe('2m');
    expect(formatSpan(15 * 60_000)).toBe('15m');
    expect(formatSpan(7_199_000)).toBe('120m');
    expect(formatSpan(7_200_000)).toBe('2.0h');
    expect(formatSpan(9_000_000)).toBe('2.5h');
  });

  it('differs from core/duration.ts formatDuration, which keeps one decimal at every scale', () => {
    expect(formatSpan(5_400_000)).toBe('90m');
    expect(formatDuration(5_400_000)).toBe('1.5h');
    expect(formatSpan(90_000)).toBe('90s');
    expect(formatDuration(90_000)).toBe('1.5m');
  });
});
