/**
 * Every model-specific deviation of the R30x family, keyed by the `model`
 * URL option. The main path asks for a named quirk; it never tests for a
 * model itself.
 *
 * Not a switch here: an R503 sends a lone 0x55 after power-up (R503 manual
 * V1.2.2, HandShake). The frame parser discards it as noise on every model,
 * which driver.test.ts (R30x model quirks) checks against the simulator's
 * `announceReady` switch.
 */
export const R30X_MODELS = ['generic', 'r503'] as const;
export type R30xModel = (typeof R30X_MODELS)[number];

export interface R30xQuirks {
  /**
   * Open with HandShake (0x40) before VfyPwd. The R503 manual V1.2.2 lists
   * it; the ZFM-20 manual does not, and device-protocols.md §4.6 makes
   * VfyPwd alone the handshake, so other models are not sent an
   * instruction they may leave unanswered.
   */
  greetWithHandshake: boolean;
}

const QUIRKS: Readonly<Record<R30xModel, R30xQuirks>> = Object.freeze({
  generic: Object.freeze({ greetWithHandshake: false }),
  r503: Object.freeze({ greetWithHandshake: true }),
});

export function quirksOf(model: R30xModel): R30xQuirks {
  return QUIRKS[model];
}
