import { Confirmation, describeConfirmation } from './frames/codes.js';
import type { InstructionName } from './frames/instructions.js';

/** The module answered, and the answer was not OK. */
export class R30xCommandError extends Error {
  override readonly name: string = 'R30xCommandError';

  constructor(
    readonly instruction: InstructionName,
    readonly confirmation: number,
    message = `${instruction} failed: ${describeConfirmation(confirmation)}`,
  ) {
    super(message);
  }

  /** The module wants VfyPwd first: it restarted behind a link that stayed up, or the password changed. */
  get passwordGate(): boolean {
    return this.confirmation === Confirmation.passwordNotVerified;
  }
}

/** VfyPwd answered 0x13: the configured password is not the module's. Retrying cannot help. */
export class R30xPasswordError extends R30xCommandError {
  override readonly name = 'R30xPasswordError';

  constructor() {
    super(
      'VfyPwd',
      Confirmation.wrongPassword,
      'the module rejected the password (VfyPwd answered 0x13 wrong password); set the URL option password= to the module password (decimal or 0x-hex)',
    );
  }
}

/** A command got no valid reply in any of its attempts; the session closes the link so it is reopened. */
export class R30xNoReplyError extends Error {
  override readonly name = 'R30xNoReplyError';
}

/** The link closed under a command, or none came back in time to run it. */
export class R30xLinkLostError extends Error {
  override readonly name = 'R30xLinkLostError';
}

export class R30xClosedError extends Error {
  override readonly name = 'R30xClosedError';

  constructor() {
    super('the r30x driver is closed');
  }
}

/**
 *   timeout    no finger (or no lift) within the enrolment timeout
 *   mismatch   the two captures are not the same finger (RegModel 0x0A)
 *   duplicate  the finger is already enrolled in another slot
 */
export type R30xEnrollFailure = 'timeout' | 'mismatch' | 'duplicate';

export class R30xEnrollError extends Error {
  override readonly name = 'R30xEnrollError';

  constructor(
    readonly reason: R30xEnrollFailure,
    message: string,
    /** For `duplicate`: the slot that already holds the finger. */
    readonly existingSlot?: number,
  ) {
    super(message);
  }
}
