// The text hunt report of DESIGN.md (`hunt --format text`): one block per finding, every value escaped for the
// terminal.
import { escapeForTerminal } from '../core/escape.js';
import type { FindingDoc } from '../core/finding.js';

const MAX_EVIDENCE_LINE = 600;

function flatten(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object') return [`${prefix}=${String(value)}`];
  if (Array.isArray(value)) return [`${prefix}=${value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(',')}`];
  return Object.entries(value).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
}

/** One readable line: the evidence summaries, or key=value pairs when a detector gave none. */
export function evidenceLine(evidence: ReadonlyArray<Record<string, unknown>>): string {
  const summaries = evidence.map((e) => e['summary']).filter((s): s is string => typeof s === 'string');
  const line = summaries.length > 0 ? summaries.join('; ') : evidence.flatMap((e) => flatten(e)).slice(0, 12).join(' ');
  return line.length > MAX_EVIDENCE_LINE ? `${line.slice(0, MAX_EVIDENCE_LINE - 1)}…` : line;
}

/** The hunt report block of DESIGN.md; every value is escaped for the terminal. */
export function formatHuntReport(doc: FindingDoc): string {
  const e = escapeForTerminal;
  return [
    `Hunt ID: ${e(doc.hunt.id)}`,
    `Technique: ${e(doc.threat.technique.map((t) => t.id).join(', '))}`,
    `Host: ${e(doc.host.name)}`,
    `User: ${e(doc.user.name ?? doc.user.id ?? 'unknown')}`,
    `Evidence: ${e(evidenceLine(doc.hunt.evidence))}`,
    `Risk Level: ${e(doc.hunt.risk)}`,
    `Confidence: ${e(doc.hunt.confidence)}`,
    `Recommended Action: ${e(doc.hunt.recommended_action)}`,
  ].join('\n');
}
