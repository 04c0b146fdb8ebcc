import { describe, expect, it } from 'vitest';
import { RISKS, RISK_BANDS, parseRisk, riskAtLeast, riskFromScore } from '../../core/risk.js';
import { isSockhuntError } from '../../core/errors.js';

describe('risk names', () => {
  it('parses any case', () => {
    expect(parseRisk('high')).toBe('High');
    expect(parseRisk('CRITICAL')).toBe('Critical');
    expect(parseRisk(' Medium ')).toBe('Medium');
    expect(parseRisk('lOw')).toBe('Low');
  });

  it('rejects unknown names with a usage error listing the valid ones', () => {
    try {
      parseRisk('severe');
      expect.unreachable();
    } catch (err) {
      expect(isSockhuntError(err) && err.code).toBe('SOCKHUNT_E_USAGE');
      expect((err as Error).message).toContain('Low, Medium, High, Critical');
    }
  });

  it('orders Low < Medium < High < Critical', () => {
    for (const [i, a] of RISKS.entries()) {
      for (const [j, b] of RISKS.entries()) expect(riskAtLeast(a, b)).toBe(i >= j);
    }
  });
});

describe('risk bands', () => {
  it('map a score to the band whose minimum it reaches, clamping what is out of range', () => {
    expect(RISK_BANDS.map((b) => b.risk)).toEqual(['Critical', 'High', 'Medium', 'Low']);
    expect(riskFromScore(0.85)).toBe('Critical');
    expect(riskFromScore(0.849)).toBe('High');
    expect(riskFromScore(0.65)).toBe('High');
    expect(riskFromScore(0.4)).toBe('Medium');
    expect(riskFromScore(0.399)).toBe('Low');
    expect(riskFromScore(7)).toBe('Critical');
    expect(riskFromScore(-1)).toBe('Low');
    expect(riskFromScore(Number.NaN)).toBe('Low');
  });
});
