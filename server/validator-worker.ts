// Entry of a frame-validation worker thread (server/validator.ts starts it): frames in, FrameResults out.
// Its own file so that a worker never evaluates the CLI bundle or anything else with side effects.
import { parentPort } from 'node:worker_threads';
import { processFrame, type FrameResult } from './frames.js';

const port = parentPort;
if (!port) throw new Error('server/validator-worker runs as a worker thread');
port.on('message', (msg: { id: number; data: Uint8Array }) => {
  let result: FrameResult;
  try {
    // The frame's buffer is this worker's own (transferred): the documents stay in it and it travels back.
    result = processFrame(msg.data, true);
  } catch (err) {
    result = { kind: 'invalid', code: 'SOCKHUNT_E_PROTO_SCHEMA', message: `frame could not be processed: ${(err as Error).message.slice(0, 200)}` };
  }
  const batch = result.kind === 'findings' || result.kind === 'partial' ? result.batch : null;
  port.postMessage({ id: msg.id, result }, batch?.owned ? [batch.docs.buffer as ArrayBuffer] : []);
});
