// A collector whose socket table is whatever the test puts in `rows`, for driving the real loop sample by sample.
import type { Collector, Connection } from '../../collectors/types.js';

export class ScriptedCollector implements Collector {
  readonly spec = { id: 'scripted', description: 'rows given by the test', platforms: [] as NodeJS.Platform[], limitations: [] };
  rows: Connection[] = [];
  async sample(): Promise<Connection[]> {
    return this.rows;
  }
}
