// The agent's store in one call: the database and every module over it, for the loop and the CLI.
import { openAgentDb, type AgentDb, type OpenAgentDbOptions } from './db.js';
import { BaselineStore } from './baseline.js';
import { DetectorStateStore } from './detector-state.js';
import { FindingsStore } from './findings.js';
import { HistoryStore, type HistoryOptions } from './history.js';

export interface AgentStore {
  db: AgentDb;
  baseline: BaselineStore;
  history: HistoryStore;
  findings: FindingsStore;
  detectorState: DetectorStateStore;
  /** One transaction for all writes of a sample (nested store calls join it). */
  transaction<T>(fn: () => T): T;
  close(): void;
}

export function openAgentStore(path: string, opts: OpenAgentDbOptions & { history?: HistoryOptions; now?: number } = {}): AgentStore {
  const db = openAgentDb(path, opts);
  try {
    return {
      db,
      baseline: new BaselineStore(db),
      history: new HistoryStore(db, opts.history, opts.now),
      findings: new FindingsStore(db),
      detectorState: new DetectorStateStore(db),
      transaction: (fn) => db.transaction(fn),
      close: () => db.close(),
    };
  } catch (err) {
    db.close();
    throw err;
  }
}

export { openAgentDb, defaultAgentDbPath, defaultStateDir, SOCKHUNT_APPLICATION_ID } from './db.js';
export type { AgentDb, OpenAgentDbOptions } from './db.js';
export { processKeyOf } from '../../core/process-key.js';
export { BaselineStore } from './baseline.js';
export { learnEntriesOf, type LearnEntry, type LearnSample, type BaselineSummary, type ImportResult } from './baseline.js';
export { parseAllowDestination, type AllowRule, type StoredAllowRule } from '../../core/allow.js';
export { parseBaselineFile, diffBaselines, type BaselineFile, type BaselineDiff } from './baseline-file.js';
export { HistoryStore, HistoryWindow, connectionIdOf, type HistoryOptions, type HistoryRecord } from './history.js';
export { FindingsStore, type FindingRecord, type NewFinding, type FindingUpdate } from './findings.js';
export { DetectorStateStore, type DetectorState, type JsonValue } from './detector-state.js';
