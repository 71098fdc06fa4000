/**
 * Firmware-specific deviations of the push protocol. The main path asks for
 * a named quirk; it never tests for a firmware itself.
 */

/**
 * Firmware of the PUSH V2.0.1 era sends no `pushver` in its handshake and
 * reads `Stamp=`/`OpStamp=` and a bitmask `TransFlag` instead of
 * `ATTLOGStamp=`/`OPERLOGStamp=` and `TransFlag=TransData AttLog…`
 * (device-protocols.md §3.1). The simulator's `pushVersion: null` plays such
 * a terminal.
 */
export function readsLegacyOptionNames(pushVersion: string | undefined): boolean {
  return pushVersion === undefined;
}
