// Child-process script for the platform tests: runs one collector as if on another platform, against the fake
// tools that platform-fakes.ts puts first on PATH, and prints one JSON object on stdout.
//   node --import tsx platform-harness.ts <systeminformation|node-netstat> <platform> [--library] [--timeout MS]
// systeminformation reads process.platform once, when its modules load: the platform is redefined for the imports
// only and restored before anything runs (child_process itself must keep seeing the real platform).
import type { Connection } from '../../collectors/types.js';

const [collectorId, platform, ...flags] = process.argv.slice(2) as [string, NodeJS.Platform, ...string[]];
const withLibrary = flags.includes('--library');
const timeoutAt = flags.indexOf('--timeout');
const timeoutMs = timeoutAt >= 0 ? Number(flags[timeoutAt + 1]) : undefined;

const realPlatform = process.platform;
Object.defineProperty(process, 'platform', { value: platform, configurable: true });
const si = (await import('systeminformation')).default;
const { createSystemInformationCollector } = await import('../../collectors/systeminformation.js');
const { createNetstatCollector } = await import('../../collectors/netstat.js');
Object.defineProperty(process, 'platform', { value: realPlatform, configurable: true });

interface Output {
  library?: unknown;
  rows?: Connection[];
  skipped?: number;
  processError?: string | null;
  error?: { code: string | null; message: string };
}
const out: Output = {};

/** node-netstat with its own command and parser for the platform: what a plain user of the package gets. */
async function plainNodeNetstat(): Promise<unknown[]> {
  const { createRequire } = await import('node:module');
  const netstat = createRequire(import.meta.url)('node-netstat') as (
    o: { platform: string; done: (err?: Error | null) => void },
    h: (item: unknown) => void,
  ) => void;
  const items: unknown[] = [];
  await new Promise<void>((resolve, reject) => netstat({ platform, done: (err) => (err ? reject(err) : resolve()) }, (i) => void items.push(i)));
  return items;
}

try {
  if (collectorId === 'systeminformation') {
    if (withLibrary) out.library = await si.networkConnections();
    const collector = createSystemInformationCollector({ platform });
    out.rows = await collector.sample();
    out.skipped = collector.lastSkipped;
    out.processError = collector.processes.lastError ? String(collector.processes.lastError) : null;
  } else if (collectorId === 'node-netstat') {
    if (withLibrary) out.library = await plainNodeNetstat();
    const collector = createNetstatCollector({ platform, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
    out.rows = await collector.sample();
    out.skipped = collector.lastSkipped;
    out.processError = collector.processes.lastError ? String(collector.processes.lastError) : null;
  } else {
    throw new Error(`unknown collector ${collectorId}`);
  }
} catch (err) {
  const e = err as { code?: unknown; message?: unknown };
  out.error = { code: typeof e.code === 'string' ? e.code : null, message: String(e.message ?? err) };
}
process.stdout.write(JSON.stringify(out));
