// Drafts from the detectors become findings: one per detector, process and destination (or the detector's
// group) per suppression window. A repeat updates count, last seen and, when higher, risk; it keeps event.id
// and hunt.id. Nothing floods the store: a scan that makes 10,000 sockets is one finding with a count.
// Every document written (new or updated) also goes to the sink when there is one (the agent's outbox), in the
// same transaction as the finding: a finding is in the sink exactly when it is in the store.
import { newEventId } from '../core/event-id.js';
import type { FindingsStore, FindingRecord } from '../store/agent/findings.js';
import type { FindingDraft, Risk } from './detect/types.js';
import { RISKS } from './detect/types.js';
import { buildFindingDoc, dedupeKey, type FindingDoc, type FindingSink } from '../core/finding.js';

export interface RecordedFinding {
  doc: FindingDoc;
  isNew: boolean;
}

/** Where the recorder writes: the findings store, and the sink that gets every document written (none for `hunt`). */
export interface RecorderTargets {
  findings: FindingsStore;
  sink?: FindingSink | null;
}

const rank = (r: Risk): number => RISKS.indexOf(r);

export class FindingRecorder {
  /** Open findings by dedupe key, so that a repeat costs no query. */
  private readonly open = new Map<string, FindingRecord>();

  private readonly store: FindingsStore;
  private readonly sink: FindingSink | null;

  constructor(
    targets: RecorderTargets,
    private readonly host: { name: string; id: string },
    private readonly suppressionMs: number,
  ) {
    this.store = targets.findings;
    this.sink = targets.sink ?? null;
  }

  /**
   * Call inside the sample's transaction. Returns what was created or changed. Each write and its sink entry are
   * one transaction (a savepoint of the sample's): a sink that throws takes the write back with it.
   */
  record(drafts: readonly FindingDraft[], now: number): RecordedFinding[] {
    const out: RecordedFinding[] = [];
    const touched = new Set<string>();
    for (const draft of drafts) {
      const key = dedupeKey(draft);
      if (touched.has(key)) continue; // one update per finding per sample
      touched.add(key);
      const since = now - this.suppressionMs;
      let existing = this.open.get(key) ?? null;
      if (existing && existing.lastSeen < since) existing = null;
      existing ??= this.store.findOpen(key, since);
      if (existing) {
        const keepOld = rank(existing.risk) > rank(draft.risk);
        const best = keepOld ? { ...draft, risk: existing.risk, confidence: existing.confidence, score: existing.score } : draft;
        const doc = buildFindingDoc(best, {
          eventId: existing.eventId,
          huntId: existing.huntId,
          host: this.host,
          firstSeen: existing.firstSeen,
          lastSeen: now,
          count: existing.count + 1,
          now,
        });
        const prior = existing;
        const updated = this.withSink(() => {
          const found = this.store.update(prior.eventId, {
            count: prior.count + 1,
            lastSeen: now,
            doc,
            risk: best.risk,
            confidence: best.confidence,
            score: best.score,
            updatedAt: now,
          });
          if (found) this.sink?.put(doc, now);
          return found;
        });
        if (updated) {
          this.remember(key, { ...existing, count: existing.count + 1, lastSeen: now, risk: best.risk, confidence: best.confidence, score: best.score, doc });
          out.push({ doc, isNew: false });
          continue;
        }
        // Its row is gone (retention, a hand edit): this is a new finding.
      }
      const eventId = newEventId(now);
      const huntId = this.store.nextHuntId(new Date(now));
      const doc = buildFindingDoc(draft, { eventId, huntId, host: this.host, firstSeen: now, lastSeen: now, count: 1, now });
      const record = this.withSink(() => {
        const inserted = this.store.insert({
          eventId,
          huntId,
          detector: draft.detector,
          processKey: draft.processKey,
          destIp: draft.destination.ip,
          destPort: draft.destination.port,
          transport: draft.row.network.transport,
          risk: draft.risk,
          confidence: draft.confidence,
          score: draft.score,
          firstSeen: now,
          lastSeen: now,
          count: 1,
          dedupeKey: key,
          doc,
        });
        this.sink?.put(doc, now);
        return inserted;
      });
      this.remember(key, record);
      out.push({ doc, isNew: true });
    }
    if (this.open.size > 10_000) {
      for (const [k, r] of this.open) if (r.lastSeen < now - this.suppressionMs) this.open.delete(k);
    }
    return out;
  }

  /** One write and its sink entry in one transaction (without a sink, the write's own). */
  private withSink<T>(write: () => T): T {
    return this.sink ? this.store.transaction(write) : write();
  }

  /**
   * Caches a finding as the sample's transaction wrote it, and undoes that if the transaction rolls back: else a
   * repeat would update a row that was never kept, and the finding would reach neither the store nor the outbox.
   */
  private remember(key: string, record: FindingRecord): void {
    const before = this.open.get(key);
    this.open.set(key, record);
    this.store.onRollback(() => {
      if (before) this.open.set(key, before);
      else this.open.delete(key);
    });
  }
}
