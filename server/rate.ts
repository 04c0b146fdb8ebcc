// Per-connection limits: a token bucket for message rate and a sliding-window counter for repeated abuse.

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  take(now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSec);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Counts events in the last `windowMs`; `hit` says whether `limit` was reached. */
export class WindowCounter {
  private readonly times: number[] = [];

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  hit(now: number): boolean {
    this.times.push(now);
    while (this.times.length > 0 && (this.times[0] as number) <= now - this.windowMs) this.times.shift();
    if (this.times.length > this.limit) this.times.shift();
    return this.times.length >= this.limit;
  }
}
