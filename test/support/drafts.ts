// Finding drafts as the detectors make them from their test scenarios (test/agent/detect/scenarios.ts), and the
// options that build a document from one (core/finding.ts buildFindingDoc).
import type { BuildOptions } from '../../core/finding.js';
import { DETECTORS, resolveParams } from '../../agent/detect/index.js';
import type { FindingDraft } from '../../agent/detect/types.js';
import { SCENARIOS } from '../agent/detect/scenarios.js';
import { HOSTILE, NOW } from './rows.js';

export const BUILD_OPTS: BuildOptions = {
  eventId: '0b4c8f0e-8a43-4a51-9d7e-9f3a3c1d2e10',
  huntId: 'TH-HUNTIN-20261128-0001',
  host: { name: 'web-01', id: '6f1f2c9e-7c55-4d3a-9d8e-2b1f3a4c5d6e' },
  firstSeen: NOW - 60_000,
  lastSeen: NOW,
  count: 3,
  now: NOW,
};

/** What detector `id` drafts from its scenario, with default parameters (hostile: HOSTILE process name and command line). */
export function draftsOf(id: string, hostile = false): FindingDraft[] {
  const d = DETECTORS.find((x) => x.spec.id === id)!;
  return d.detect(SCENARIOS[id]!(hostile ? { name: HOSTILE, cmd: HOSTILE } : {}), resolveParams(d));
}
