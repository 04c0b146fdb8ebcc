// Last-seen times and outbox figures of connected agents, gathered in memory and written in one transaction
// every few seconds: 5,000 agents heartbeating must not mean 5,000 writes.
import type { ServerStore } from '../store/server/contract.js';

interface Touch {
  lastSeen: number;
  pending?: number;
  dropped?: number;
}

export class Presence {
  private touched = new Map<string, Touch>();

  touch(agentId: string, now: number, outbox?: { pending: number; dropped: number }): void {
    const t: Touch = { lastSeen: now };
    if (outbox) {
      t.pending = outbox.pending;
      t.dropped = outbox.dropped;
    } else {
      const prev = this.touched.get(agentId);
      if (prev?.pending !== undefined) t.pending = prev.pending;
      if (prev?.dropped !== undefined) t.dropped = prev.dropped;
    }
    this.touched.set(agentId, t);
  }

  async flush(store: ServerStore): Promise<number> {
    if (this.touched.size === 0) return 0;
    const batch = this.touched;
    this.touched = new Map();
    await store.touchHosts([...batch].map(([agentId, t]) => ({ agentId, ...t })));
    return batch.size;
  }
}
