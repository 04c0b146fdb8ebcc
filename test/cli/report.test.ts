import { describe, expect, it } from 'vitest';
import { buildFindingDoc } from '../../core/finding.js';
import { escapeForTerminal } from '../../core/escape.js';
import { evidenceLine, formatHuntReport } from '../../cli/report.js';
import { DETECTORS } from '../../agent/detect/index.js';
import { HOSTILE } from '../support/rows.js';
import { BUILD_OPTS, draftsOf } from '../support/drafts.js';

describe('hunt report', () => {
  it('prints the DESIGN.md block', () => {
    const [draft] = draftsOf('nonstandard-port');
    expect(formatHuntReport(buildFindingDoc(draft!, BUILD_OPTS))).toBe(
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
      const doc = buildFindingDoc({ ...draft, row: { ...draft.row, user: { name: HOSTILE, id: null } } }, { ...BUILD_OPTS, host: { name: HOSTILE, id: 'x' } });
      const text = formatHuntReport(doc);
      const lines = text.split('\n');
      expect(lines).toHaveLength(8);
      expect(lines.map((l) => l.split(':')[0])).toEqual([
        'Hunt ID', 'Technique', 'Host', 'User', 'Evidence', 'Risk Level', 'Confidence', 'Recommended Action',
      ]);
      expect(text.replace(/\n/g, '')).not.toMatch(/[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
      expect(text).toContain('evil\\e]0;pwned\\x07\\e[31mred\\nRisk Level: Low\\u202etxt.exe');
      expect(lines[2]).toBe(`Host: ${escapeForTerminal(HOSTILE)}`);
    }
  });

  it('escapes C0, C1, DEL and invisible formatting characters, and keeps ordinary text', () => {
    expect(escapeForTerminal('a\tb\r\nc')).toBe('a\\tb\\r\\nc');
    expect(escapeForTerminal('\x00\x1b\x7f\x9b')).toBe('\\x00\\e\\x7f\\x9b');
    expect(escapeForTerminal('x\u200By\u2028z\uFEFF\u2061')).toBe('x\\u200by\\u2028z\\ufeff\\u2061');
    expect(escapeForTerminal('C:\\Program Files\\ünïcødé → 🙂')).toBe('C:\\Program Files\\ünïcødé → 🙂');
  });

  it('summarises evidence on one line, falling back to key=value pairs', () => {
    expect(evidenceLine([{ summary: 'one' }, { other: 1 }, { summary: 'two' }])).toBe('one; two');
    expect(evidenceLine([{ rate: { per_min: 5 }, top: ['a', 'b'] }])).toBe('rate.per_min=5 top=a,b');
    expect(evidenceLine([{ summary: 'x'.repeat(2000) }])).toHaveLength(600);
  });

  it('falls back to the user id, then "unknown"', () => {
    const [draft] = draftsOf('nonstandard-port');
    const anon = buildFindingDoc({ ...draft!, row: { ...draft!.row, user: { name: null, id: '0' } } }, BUILD_OPTS);
    expect(formatHuntReport(anon)).toContain('\nUser: 0\n');
    const none = buildFindingDoc({ ...draft!, row: { ...draft!.row, user: { name: null, id: null } } }, BUILD_OPTS);
    expect(formatHuntReport(none)).toContain('\nUser: unknown\n');
  });
});
