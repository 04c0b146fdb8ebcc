// Starts helper processes for tests and stops exactly those (by pid) afterwards.
import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process';
import { createInterface } from 'node:readline';

const started = new Set<ChildProcess>();

/** Spawns a process and resolves with its first stdout line parsed as JSON. */
export async function startReady<T>(command: string, args: string[], options: SpawnOptions = {}, timeoutMs = 30_000): Promise<{ child: ChildProcess; ready: T }> {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
  started.add(child);
  child.on('exit', () => started.delete(child));
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} not ready after ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited with ${code} before it was ready: ${stderr}`));
    });
  });
  return { child, ready: JSON.parse(line) as T };
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

export async function stopAll(): Promise<void> {
  await Promise.all([...started].map(stop));
}
