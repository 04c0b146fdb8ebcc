// Where the agent keeps its state (DESIGN.md, "Where things live").
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/** `$SOCKHUNT_HOME`, else `/var/lib/sockhunt` for root, else `$XDG_STATE_HOME/sockhunt` or `~/.local/state/sockhunt`. */
export function defaultStateDir(
  env: NodeJS.ProcessEnv = process.env,
  uid: number | undefined = process.getuid?.(),
  home: string = homedir(),
): string {
  if (env.SOCKHUNT_HOME) return resolve(env.SOCKHUNT_HOME);
  if (uid === 0) return '/var/lib/sockhunt';
  // The XDG spec says a relative XDG_STATE_HOME is invalid and must be ignored.
  const xdg = env.XDG_STATE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'sockhunt');
  return join(home, '.local', 'state', 'sockhunt');
}

export function defaultAgentDbPath(env: NodeJS.ProcessEnv = process.env, uid?: number, home?: string): string {
  return join(defaultStateDir(env, uid ?? process.getuid?.(), home ?? homedir()), 'agent.db');
}
