/**
 * Vendor workarounds, each in one narrowly named place with its evidence.
 */

/**
 * The reply to _CMD_GET_USERTEMP (88) carries one byte more than the
 * template: pyzk's capture in test.py is 1244 bytes for a 1243-byte template,
 * and pyzk get_user_template drops it (device-protocols.md §2.10).
 */
export function dropTemplateReadTrailer(reply: Buffer): Buffer {
  return reply.subarray(0, Math.max(0, reply.length - 1));
}
