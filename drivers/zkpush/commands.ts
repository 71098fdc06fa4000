import type { Timers } from '../core/reconnect.js';
import type { CommandResult, QueuedCommand } from './codec.js';

export class ZkPushCommandTimeoutError extends Error {
  override readonly name = 'ZkPushCommandTimeoutError';
}

/** The receiver closed, or the command was never sent and can no longer be. */
export class ZkPushCommandCancelledError extends Error {
  override readonly name = 'ZkPushCommandCancelledError';
}

interface PendingCommand extends QueuedCommand {
  sent: boolean;
  timer: unknown;
  resolve: (result: CommandResult) => void;
  reject: (error: Error) => void;
}

/**
 * One terminal's commands, from queueing to result. A command goes out on
 * the terminal's next poll (§3.3), exactly once: the terminal may already
 * have run it when its answer is lost, and a second CLEAR LOG or REBOOT is
 * not harmless. Its result comes back by id on /iclock/devicecmd (§3.4).
 */
export class CommandQueue {
  private readonly pending = new Map<string, PendingCommand>();

  constructor(
    private readonly serial: string,
    private readonly timers: Timers,
    private readonly onTimeout: () => void,
  ) {}

  /** Resolves with the terminal's result, whatever its return code; rejects after `timeoutMs` without one. */
  enqueue(id: string, command: string, timeoutMs: number): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
      const timer = this.timers.setTimeout(() => {
        const entry = this.pending.get(id);
        this.pending.delete(id);
        this.onTimeout();
        const where = entry?.sent ? 'the terminal took it but sent no result' : 'the terminal did not poll';
        reject(new ZkPushCommandTimeoutError(`command ${id} for ${this.serial}: no result after ${timeoutMs} ms (${where})`));
      }, timeoutMs);
      this.pending.set(id, { id, command, sent: false, timer, resolve, reject });
    });
  }

  /** The commands not yet sent, oldest first, now marked sent. */
  takeUnsent(): QueuedCommand[] {
    const unsent = [...this.pending.values()].filter((entry) => !entry.sent);
    for (const entry of unsent) entry.sent = true;
    return unsent.map(({ id, command }) => ({ id, command }));
  }

  /** Hands a result to its command; false when no command waits for that id (late, or not ours). */
  settle(result: CommandResult): boolean {
    const entry = this.pending.get(result.id);
    if (!entry) return false;
    this.pending.delete(result.id);
    this.timers.clearTimeout(entry.timer);
    entry.resolve(result);
    return true;
  }

  cancelAll(reason: string): void {
    for (const entry of this.pending.values()) {
      this.timers.clearTimeout(entry.timer);
      entry.reject(new ZkPushCommandCancelledError(`command ${entry.id} for ${this.serial}: ${reason}`));
    }
    this.pending.clear();
  }
}
