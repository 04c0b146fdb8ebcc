import { describe, expect, it } from 'vitest';
import {
  FindingDocSchema,
  buildFindingDoc,
  dedupeKey,
  escapeTerminal,
  evidenceLine,
  formatHuntId,
  formatHuntReport,
  parseRisk,
  riskAtLeast,
  type BuildOptions,
} from '../../core/finding.js';
import { DETECTORS, resolveParams } from '../../agent/detect/index.js';
import { RISKS, type FindingDraft } from '../../agent/detect/types.js';
import { isSockhuntError } from '../../core/errors.js';
import { HOSTILE, NOW } from '../agent/detect/fixtures.js';
import { SCENARIOS } from '../agent/detect/scenarios.js';

const OPTS: BuildOptions = {
  eventId: '0b4c8f0e-8a43-4a51-9d7e-9f3a3c1d2e10',
  huntId: 'TH-HUNTIN-20261128-0001',
  host: { name: 'web-01', id: '6f1f2c9e-7c55-4d3a-9d8e-2b1f3a4c5d6e' },
  firstSeen: NOW - 60_000,
  lastSeen: NOW,
  count: 3,
  now: NOW,
};

function draftsOf(id: string, hostile = false): FindingDraft[] {
  const d = DETECTORS.find((x) => x.spec.id === id)!;
  return d.detect(SCENARIOS[id]!(hostile ? { name: HOSTILE, cmd: HOSTILE } : {}), resolveParams(d));
}

describe('finding document', () => {
  it.each(DETECTORS.map((d) => d.spec.id))('is schema-valid for every %s finding, hostile strings included', (id) => {
    for (const hostile of [false, true]) {
      const drafts = draftsOf(id, hostile);
      expect(drafts.length).toBeGreaterThan(0);
      for (const draft of drafts) {
        const doc = buildFindingDoc(draft, OPTS);
        expect(FindingDocSchema.safeParse(JSON.parse(JSON.stringify(doc))).success).toBe(true);
        expect(doc.hunt.detector).toBe(id);
      }
    }
  });

  it('maps the draft into ECS fields', () => {
    const [draft] = draftsOf('nonstandard-port');
    const doc = buildFindingDoc(draft!, OPTS);
    expect(doc).toMatchObject({
      '@timestamp': '2026-11-28T12:00:00.000Z',
      event: { id: OPTS.eventId, kind: 'alert', category: ['network'], type: ['connection'] },
      rule: { id: 'nonstandard-port', name: 'Non-standard port', author: 'sockhunt', ruleset: 'sockhunt' },
      threat: { framework: 'MITRE ATT&CK', technique: [{ id: 'T1571', name: 'Non-Standard Port' }] },
      hunt: {
        id: OPTS.huntId,
        detector: 'nonstandard-port',
        risk: 'High',
        confidence: 'High',
        score: 0.8,
        first_seen: '2026-11-28T11:59:00.000Z',
        last_seen: '2026-11-28T12:00:00.000Z',
        count: 3,
      },
      host: OPTS.host,
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
    expect(buildFindingDoc(draft!, OPTS).destination).toEqual({ ip: '203.0.113.50', port: 443, domain: 'c2.example.net' });
  });

  it('rejects what does not fit the schema, naming the field', () => {
    const [draft] = draftsOf('beacon');
    const fail = (opts: Partial<BuildOptions>) => {
      try {
        buildFindingDoc(draft!, { ...OPTS, ...opts });
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
    expect(() => buildFindingDoc({ ...draft!, score: 1.5 }, OPTS)).toThrow(/hunt\.score/);
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

describe('hunt report', () => {
  it('prints the DESIGN.md block', () => {
    const [draft] = draftsOf('nonstandard-port');
    expect(formatHuntReport(buildFindingDoc(draft!, OPTS))).toBe(
      [
        'Hunt ID: TH-HUNTIN-20261128-0001',
        'Technique: T1571',
        'Host: web-01',
        'User: alice',
        'Evidence: ssh (pid 4242) → 203.0.113.9:2222/tcp (external): SSH client on tcp/2222 (usual: 22); port on Sigma list "Potentially Suspicious Malware Callback Communication - Linux" by hasselj',
        'Risk Level: High',
        'Confidence: High',
        `Recommended Action: ${draft!.recommendedAction}`,
      ].join('\n'),
    );
  });

  it.each(DETECTORS.map((d) => d.spec.id))('never prints raw control characters from %s evidence', (id) => {
    for (const draft of draftsOf(id, true)) {
      const doc = buildFindingDoc({ ...draft, row: { ...draft.row, user: { name: HOSTILE, id: null } } }, { ...OPTS, host: { name: HOSTILE, id: 'x' } });
      const text = formatHuntReport(doc);
      const lines = text.split('\n');
      expect(lines).toHaveLength(8);
      expect(lines.map((l) => l.split(':')[0])).toEqual([
        'Hunt ID', 'Technique', 'Host', 'User', 'Evidence', 'Risk Level', 'Confidence', 'Recommended Action',
      ]);
      expect(text.replace(/\n/g, '')).not.toMatch(/[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
      expect(text).toContain('evil\\x1b]0;pwned\\x07\\x1b[31mred\\nRisk Level: Low\\u{202e}txt.exe');
      expect(lines[2]).toBe(`Host: ${escapeTerminal(HOSTILE)}`);
    }
  });

  it('escapes C0, C1, DEL and invisible formatting characters, and keeps ordinary text', () => {
    expect(escapeTerminal('a\tb\r\nc')).toBe('a\\tb\\r\\nc');
    expect(escapeTerminal('\x00\x1b\x7f\x9b')).toBe('\\x00\\x1b\\x7f\\x9b');
    expect(escapeTerminal('x\u200By\u2028z\uFEFF')).toBe('x\\u{200b}y\\u{2028}z\\u{feff}');
    expect(escapeTerminal('C:\\Program Files\\ünïcødé → 🙂')).toBe('C:\\Program Files\\ünïcødé → 🙂');
  });

  it('summarises evidence on one line, falling back to key=value pairs', () => {
    expect(evidenceLine([{ summary: 'one' }, { other: 1 }, { summary: 'two' }])).toBe('one; two');
    expect(evidenceLine([{ rate: { per_min: 5 }, top: ['a', 'b'] }])).toBe('rate.per_min=5 top=a,b');
    expect(evidenceLine([{ summary: 'x'.repeat(2000) }])).toHaveLength(600);
  });

  it('falls back to the user id, then "unknown"', () => {
    const [draft] = draftsOf('nonstandard-port');
    const anon = buildFindingDoc({ ...draft!, row: { ...draft!.row, user: { name: null, id: '0' } } }, OPTS);
    expect(formatHuntReport(anon)).toContain('\nUser: 0\n');
    const none = buildFindingDoc({ ...draft!, row: { ...draft!.row, user: { name: null, id: null } } }, OPTS);
    expect(formatHuntReport(none)).toContain('\nUser: unknown\n');
  });
});
