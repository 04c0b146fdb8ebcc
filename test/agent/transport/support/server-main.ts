// The test server as a process (run with `node --import tsx`), so that a test can kill -9 it and start it
// again on the same database and port, inside the agent's network namespace. Events go to stdout as NDJSON;
// commands come on stdin as NDJSON: {"id":1,"cmd":"request","action":"snapshot","params":{}},
// {"id":2,"cmd":"release-acks"}, {"id":3,"cmd":"kick","code":4002}.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { TestServer } from './test-server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    db: { type: 'string' },
    secret: { type: 'string', default: 'test-enroll-secret' },
    allow: { type: 'string' },
    'hold-acks': { type: 'boolean', default: false },
    'lose-acks': { type: 'string', default: '0' },
  },
});

const emit = (event: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(event)}\n`);

const server = await TestServer.start({
  port: Number(values.port),
  ...(values.db ? { dbPath: values.db } : {}),
  enrollSecret: values.secret!,
  allow: values.allow ? JSON.parse(values.allow) : [],
  holdAcks: values['hold-acks'],
  loseAcks: Number(values['lose-acks']),
});
server.on('welcome', (w) => emit({ event: 'welcome', ...w }));
server.on('batch', (b: { seqs: number[] }) => emit({ event: 'batch', n: b.seqs.length, first: b.seqs[0], last: b.seqs.at(-1) }));
server.on('disconnect', (agentId) => emit({ event: 'disconnect', agentId }));
emit({ event: 'listening', port: server.port, pid: process.pid });

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let cmd: { id?: unknown; cmd?: string; action?: string; params?: unknown; code?: number };
  try {
    cmd = JSON.parse(line);
  } catch {
    return;
  }
  const id = cmd.id;
  switch (cmd.cmd) {
    case 'request':
      server.request(cmd.action ?? '', cmd.params ?? {}).then(
        (reply) => emit({ event: 'reply', id, reply }),
        (err: Error) => emit({ event: 'reply', id, error: err.message }),
      );
      return;
    case 'release-acks':
      server.releaseAcks();
      emit({ event: 'done', id });
      return;
    case 'kick':
      server.kick(cmd.code ?? 1000);
      emit({ event: 'done', id });
      return;
  }
});
// stdin closing (the test went away) ends the server.
rl.on('close', () => {
  void server.close().then(() => process.exit(0));
});
