// The real aggregation server (server/app.ts over the SQLite store) as a process, for the agent tests that
// kill -9 it and start it again on the same database and port. Events on stdout, commands on stdin (NDJSON):
// {"id":1,"cmd":"findings"}, {"id":2,"cmd":"hosts"}, {"id":3,"cmd":"request","action":"snapshot","params":{}}.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { startServer } from '../../../../server/main.js';
import { openSqliteServerStore } from '../../../../store/server/sqlite.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    db: { type: 'string' },
    secret: { type: 'string', default: 'test-enroll-secret' },
  },
});
const emit = (event: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(event)}\n`);

const store = openSqliteServerStore(values.db!);
const server = await startServer(
  { store, enrollSecret: values.secret!, apiToken: 'test-api-token-0123456789', log: (level, message, fields) => process.stderr.write(`${level} ${message} ${JSON.stringify(fields ?? {})}\n`) },
  { host: '127.0.0.1', port: Number(values.port) },
);
emit({ event: 'listening', port: server.address.port, pid: process.pid });

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let cmd: { id?: unknown; cmd?: string; action?: string; params?: unknown; agent?: string };
  try {
    cmd = JSON.parse(line);
  } catch {
    return;
  }
  const id = cmd.id;
  const run = async (): Promise<Record<string, unknown>> => {
    switch (cmd.cmd) {
      case 'findings': {
        const items: Array<{ eventId: string; count: number; agentId: string }> = [];
        let cursor: string | null = null;
        do {
          const page = await store.listFindings({}, { limit: 500, cursor, sort: 'recent' });
          for (const f of page.items) items.push({ eventId: f.eventId, count: f.count, agentId: f.agentId });
          cursor = page.nextCursor;
        } while (cursor);
        return { event: 'findings', id, items, stats: server.stats };
      }
      case 'hosts':
        return { event: 'hosts', id, hosts: await store.listHosts() };
      case 'request': {
        const agent = cmd.agent ?? server.hub.agentIds()[0];
        if (!agent) return { event: 'reply', id, error: 'no agent online' };
        const reply = await server.hub.request(agent, cmd.action as 'snapshot', (cmd.params ?? {}) as Record<string, unknown>, 30_000);
        return { event: 'reply', id, reply };
      }
      default:
        return { event: 'error', id, error: `unknown command ${cmd.cmd}` };
    }
  };
  run().then(emit, (err: Error) => emit({ event: 'error', id, error: err.message }));
});
rl.on('close', () => {
  void server.close().then(async () => {
    await store.close();
    process.exit(0);
  });
});
