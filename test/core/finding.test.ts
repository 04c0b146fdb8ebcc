import { describe, expect, it } from 'vitest';
import {
  FindingDocSchema,
  buildFindingDoc,
  dedupeKey,
  formatHuntId,
  type BuildOptions,
} from '../../core/finding.js';
import { DETECTORS, resolveParams } from '../../agent/detect/index.js';
import { isSockhuntError } from '../../core/errors.js';
import { NOW } from '../support/rows.js';
import { SCENARIOS } from '../agent/detect/scenarios.js';
import { BUILD_OPTS, draftsOf } from '../support/drafts.js';

describe('finding document', () => {
  it.each(DETECTORS.map((d) => d.spec.id))('is schema-valid for every %s finding, hostile strings included', (id) => {
    for (const hostile of [false, true]) {
      const drafts = draftsOf(id, hostile);
      expect(drafts.length).toBeGreaterThan(0);
      for (const draft of drafts) {
        const doc = buildFindingDoc(draft, BUILD_OPTS);
        expect(FindingDocSchema.safeParse(JSON.parse(JSON.stringify(doc))).success).toBe(true);
        expect(doc.hunt.detector).toBe(id);
      }
    }
  });

  it('maps the draft into ECS fields', () => {
    const [draft] = draftsOf('nonstandard-port');
    const doc = buildFindingDoc(draft!, BUILD_OPTS);
    expect(doc).toMatchObject({
      '@timestamp': '2026-11-28T12:00:00.000Z',
      event: { id: BUILD_OPTS.eventId, kind: 'alert', category: ['network'], type: ['connection'] },
      rule: { id: 'nonstandard-port', name: 'Non-standard port', author: 'sockhunt', ruleset: 'sockhunt' },
      threat: { framework: 'MITRE ATT&CK', technique: [{ id: 'T1571', name: 'Non-Standard Port' }] },
      hunt: {
        id: BUILD_OPTS.huntId,
        detector: 'nonstandard-port',
        risk: 'High',
        confidence: 'High',
        score: 0.8,
        first_seen: '2026-11-28T11:59:00.000Z',
        last_seen: '2026-11-28T12:00:00.000Z',
        count: 3,
      },
      host: BUILD_OPTS.host,
      user: { name: 'alice', id: '1000' },
      process: { pid: 4242, name: 'ssh', executable: '/usr/bin/ssh', parent: { pid: 1, name: 'bash' } },
      destination: { ip: '203.0.113.9', port: 2222 },
      network: { transport: 'tcp', direction: 'egress' },
    });
    expect(doc.destination).not.toHaveProperty('domain');
    expect(doc.hunt.recommended_action).toBe(draft!.recommendedAction);
    expect(doc.hunt.evidence).toEqual(draft!.evidence);
  });

  it('keeps the destination domain when the detector knew it', () => {
    const d = DETECTORS.find((x) => x.spec.id === 'first-seen')!;
    const ctx = SCENARIOS['first-seen']!();
    ctx.domainOf = () => 'c2.example.net';
    const [draft] = d.detect(ctx, resolveParams(d));
    expect(buildFindingDoc(draft!, BUILD_OPTS).destination).toEqual({ ip: '203.0.113.50', port: 443, domain: 'c2.example.net' });
  });

  it('rejects what does not fit the schema, naming the field', () => {
    const [draft] = draftsOf('beacon');
    const fail = (opts: Partial<BuildOptions>) => {
      try {
        buildFindingDoc(draft!, { ...BUILD_OPTS, ...opts });
      } catch (err) {
        expect(isSockhuntError(err) && err.code).toBe('SOCKHUNT_E_INPUT');
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(fail({ huntId: 'hunt-1' })).toMatch(/hunt\.id/);
    expect(fail({ count: 0 })).toMatch(/hunt\.count/);
    expect(fail({ eventId: '' })).toMatch(/event\.id/);
    expect(fail({ lastSeen: 'yesterday' })).toMatch(/invalid time/);
    expect(() => buildFindingDoc({ ...draft!, score: 1.5 }, BUILD_OPTS)).toThrow(/hunt\.score/);
  });

  it('mints hunt ids from the UTC date and a sequence of at least four digits', () => {
    expect(formatHuntId(NOW, 1)).toBe('TH-HUNTIN-20261128-0001');
    expect(formatHuntId(Date.UTC(2026, 0, 2, 23, 59), 12345)).toBe('TH-HUNTIN-20260102-12345');
    expect(() => formatHuntId(NOW, 0)).toThrow();
    expect(FindingDocSchema.shape.hunt.shape.id.safeParse(formatHuntId(NOW, 99999)).success).toBe(true);
  });
});

describe('dedupe key', () => {
  it('is detector, process and destination', () => {
    const [draft] = draftsOf('nonstandard-port');
    expect(dedupeKey(draft!)).toBe('nonstandard-port|/usr/bin/ssh|203.0.113.9:2222/tcp');
    const moved = { ...draft!, destination: { ip: '203.0.113.10', port: 2222 } };
    expect(dedupeKey(moved)).not.toBe(dedupeKey(draft!));
    expect(dedupeKey({ ...draft!, detector: 'first-seen' })).not.toBe(dedupeKey(draft!));
  });

  it('uses the detector group when there is one (a scan is one finding)', () => {
    const [draft] = draftsOf('scan');
    expect(dedupeKey(draft!)).toBe('scan|/usr/bin/nmap|horizontal:internal:445');
    expect(dedupeKey({ ...draft!, destination: { ip: '10.0.3.99', port: 445 } })).toBe(dedupeKey(draft!));
    expect(dedupeKey({ ...draft!, processKey: null })).toBe('scan|unattributed|horizontal:internal:445');
  });
});
