// The connected agents (one live connection per agent id) and the requests the server has sent them and
// awaits replies to (live response, allow-list pushes).
import { randomUUID } from 'node:crypto';
import type { Reply, RequestAction, RequestParamsInput, ServerMessage } from '../core/protocol.js';

export interface AgentLink {
  readonly agentId: string;
  send(message: ServerMessage): void;
  close(code: number, reason: string): void;
}

export type RequestFailure = 'offline' | 'timeout' | 'disconnected';

export class RequestError extends Error {
  constructor(
    readonly kind: RequestFailure,
    message: string,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

interface Pending {
  agentId: string;
  link: AgentLink;
  resolve(reply: Reply): void;
  reject(err: RequestError): void;
  timer: NodeJS.Timeout;
}

export class AgentHub {
  private readonly links = new Map<string, AgentLink>();
  private readonly pending = new Map<string, Pending>();

  /** Makes `link` the agent's connection; returns the one it replaces (the caller closes it). */
  register(link: AgentLink): AgentLink | undefined {
    const previous = this.links.get(link.agentId);
    this.links.set(link.agentId, link);
    if (previous && previous !== link) this.failPending(previous, 'disconnected', 'the agent reconnected before replying');
    return previous !== link ? previous : undefined;
  }

  /** Returns true when `link` was the agent's current connection (the agent is offline now). */
  unregister(link: AgentLink): boolean {
    this.failPending(link, 'disconnected', 'the agent disconnected before replying');
    if (this.links.get(link.agentId) !== link) return false;
    this.links.delete(link.agentId);
    return true;
  }

  get(agentId: string): AgentLink | undefined {
    return this.links.get(agentId);
  }

  isOnline(agentId: string): boolean {
    return this.links.has(agentId);
  }

  get size(): number {
    return this.links.size;
  }

  agentIds(): string[] {
    return [...this.links.keys()];
  }

  /**
   * Sends a request (an action of core/protocol.ts REQUEST_ACTIONS, with its params) and resolves with the agent's
   * reply; rejects with RequestError when it cannot.
   */
  request<A extends RequestAction>(agentId: string, action: A, params: RequestParamsInput<A>, timeoutMs: number): Promise<Reply> {
    const link = this.links.get(agentId);
    if (!link) return Promise.reject(new RequestError('offline', 'the agent is not connected'));
    const requestId = randomUUID();
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new RequestError('timeout', `no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.pending.set(requestId, { agentId, link, resolve, reject, timer });
      link.send({ type: 'request', request_id: requestId, action, params });
    });
  }

  /** Routes a reply to its request; a reply from another agent, or after the timeout, is ignored (false). */
  deliverReply(agentId: string, reply: Reply): boolean {
    const p = this.pending.get(reply.request_id);
    if (!p || p.agentId !== agentId) return false;
    this.pending.delete(reply.request_id);
    clearTimeout(p.timer);
    p.resolve(reply);
    return true;
  }

  closeAll(code: number, reason: string): void {
    for (const link of [...this.links.values()]) link.close(code, reason);
  }

  private failPending(link: AgentLink, kind: RequestFailure, message: string): void {
    for (const [id, p] of this.pending) {
      if (p.link !== link) continue;
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new RequestError(kind, message));
    }
  }
}
