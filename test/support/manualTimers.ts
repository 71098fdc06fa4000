/**
 * A clock and timers that move only when the test says so: code under test
 * that takes injectable timers is driven through its waits without sleeping.
 */
export class ManualTimers {
  private time = 0;
  private nextId = 1;
  private readonly pending = new Map<number, { at: number; ms: number; callback: () => void }>();
  /** Every delay ever asked for, in order. */
  readonly requested: number[] = [];

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.pending.set(id, { at: this.time + ms, ms, callback });
    this.requested.push(ms);
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  now(): number {
    return this.time;
  }

  get scheduled(): number {
    return this.pending.size;
  }

  /** The delays of the timers now pending. */
  get delays(): number[] {
    return [...this.pending.values()].map((timer) => timer.ms);
  }

  /** Moves the clock by `ms` without firing anything, as if that much time passed quietly. */
  pass(ms: number): void {
    this.time += ms;
  }

  /** Jumps to the earliest pending timer and fires it. */
  fireNext(): void {
    const next = [...this.pending.entries()].sort(([, a], [, b]) => a.at - b.at)[0];
    if (!next) throw new Error('no timer is pending');
    const [id, timer] = next;
    this.pending.delete(id);
    this.time = Math.max(this.time, timer.at);
    timer.callback();
  }

  /** Fires every pending timer, in the order they are due. */
  fireAll(): void {
    const due = [...this.pending.entries()].sort(([, a], [, b]) => a.at - b.at);
    this.pending.clear();
    for (const [, timer] of due) {
      this.time = Math.max(this.time, timer.at);
      timer.callback();
    }
  }
}
