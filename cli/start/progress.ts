/**
 * A progress bar for long CLI jobs, on stderr by default. On a terminal it
 * redraws one line: `[#####...............] 1234/5000 25% 3.1s`; elsewhere
 * (a log file, CI, a pipe) it prints the same text as plain lines, one per
 * 10 % step or per `intervalMs`, whichever comes first, and one at the end.
 */

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressBarOptions {
  stream?: ProgressStream;
  /** Printed before the bar, e.g. `re-wrapping data keys`. */
  label?: string;
  /** Redraw in place; default the stream's isTTY. */
  tty?: boolean;
  /** Cells in the bar (default 20). */
  width?: number;
  /** Milliseconds clock (default performance.now). */
  now?: () => number;
  /** Non-TTY: the longest gap between lines (default 5000 ms). TTY: the shortest gap between redraws (fixed 100 ms). */
  intervalMs?: number;
}

export interface ProgressBar {
  /** Reports `done` of `total` (a new total replaces the old one). */
  update(done: number, total?: number): void;
  /** Draws the final state and ends the line. */
  finish(): void;
}

/** `[#####...............] 1234/5000 25% 3.1s` */
export function renderProgress(done: number, total: number, elapsedMs: number, width = 20): string {
  const fraction = total <= 0 ? 1 : Math.min(1, Math.max(0, done / total));
  const filled = Math.floor(fraction * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${Math.floor(fraction * 100)}% ${(elapsedMs / 1000).toFixed(1)}s`;
}

export function createProgressBar(initialTotal: number, options: ProgressBarOptions = {}): ProgressBar {
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? stream.isTTY === true;
  const now = options.now ?? (() => performance.now());
  const width = options.width ?? 20;
  const intervalMs = options.intervalMs ?? 5000;
  const prefix = options.label ? `${options.label} ` : '';
  const started = now();
  let total = initialTotal;
  let done = 0;
  let lastDrawn = -Infinity;
  let lastStep = -1;
  let lastCounts = '';
  let finished = false;

  const text = () => `${prefix}${renderProgress(done, total, now() - started, width)}`;
  const step = () => (total <= 0 ? 10 : Math.floor(Math.min(1, done / total) * 10));
  const draw = () => {
    lastDrawn = now();
    lastStep = step();
    lastCounts = `${done}/${total}`;
    // \x1b[K clears what a longer previous line left behind.
    stream.write(tty ? `\r${text()}\x1b[K` : `${text()}\n`);
  };

  return {
    update(value, newTotal) {
      if (finished) return;
      done = value;
      if (newTotal !== undefined) total = newTotal;
      const due = tty ? now() - lastDrawn >= 100 : step() > lastStep || now() - lastDrawn >= intervalMs;
      if (due) draw();
    },
    finish() {
      if (finished) return;
      finished = true;
      if (tty) {
        draw();
        stream.write('\n');
      } else if (lastCounts !== `${done}/${total}`) {
        // Non-TTY: no final line that would only repeat the last one's counts.
        draw();
      }
    },
  };
}
