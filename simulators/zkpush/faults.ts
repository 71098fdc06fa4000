/**
 * Switches that make the simulated terminal misbehave, each counted so tests
 * stay deterministic. All are off until a test arms them. Server-side
 * trouble (errors, refusals, slowness) needs no switch: the terminal answers
 * it as firmware does, by keeping its records and retrying after ErrorDelay.
 */
export class PushTerminalFaults {
  private readonly malformed: { lines: readonly string[]; remaining: number }[] = [];
  private resultsToDrop = 0;

  /** Appends `lines` to the body of each of the next `times` uploads, as buggy firmware or a torn write would. */
  injectMalformedLines(lines: readonly string[], times = 1): void {
    this.malformed.push({ lines, remaining: times });
  }

  /** Runs the commands of the next `times` polls but never posts their results, as if the posts were lost. */
  dropCommandResults(times = 1): void {
    this.resultsToDrop += times;
  }

  /** The malformed lines due on this upload. */
  takeMalformedLines(): string[] {
    const due = this.malformed.flatMap((fault) => (fault.remaining > 0 ? [...fault.lines] : []));
    for (const fault of this.malformed) fault.remaining = Math.max(0, fault.remaining - 1);
    return due;
  }

  /** Whether the results of this poll are to be dropped. */
  takeDroppedResults(): boolean {
    if (this.resultsToDrop === 0) return false;
    this.resultsToDrop -= 1;
    return true;
  }
}
