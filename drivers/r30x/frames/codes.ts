import { hex8 } from './packet.js';

/**
 * Confirmation codes, the first payload byte of every ack
 * (device-protocols.md §4.3; ZFM-20 manual §5.2).
 */
export const Confirmation = {
  ok: 0x00,
  packetReceiveError: 0x01,
  noFinger: 0x02,
  imageCaptureFailed: 0x03,
  imageTooMessy: 0x06,
  tooFewFeatures: 0x07,
  noMatch: 0x08,
  notFound: 0x09,
  mergeFailed: 0x0a,
  pageOutOfRange: 0x0b,
  templateReadError: 0x0c,
  featureUploadFailed: 0x0d,
  cannotReceiveData: 0x0e,
  imageUploadFailed: 0x0f,
  deleteFailed: 0x10,
  clearLibraryFailed: 0x11,
  wrongPassword: 0x13,
  noValidImage: 0x15,
  flashError: 0x18,
  invalidRegister: 0x1a,
  addressCodeError: 0x20,
  passwordNotVerified: 0x21,
} as const;

const MESSAGES: ReadonlyMap<number, string> = new Map([
  [Confirmation.ok, 'OK'],
  [Confirmation.packetReceiveError, 'packet receive error'],
  [Confirmation.noFinger, 'no finger on the sensor'],
  [Confirmation.imageCaptureFailed, 'image capture failed'],
  [Confirmation.imageTooMessy, 'image too messy'],
  [Confirmation.tooFewFeatures, 'too few feature points'],
  [Confirmation.noMatch, 'no match'],
  [Confirmation.notFound, 'not found in the library'],
  [Confirmation.mergeFailed, 'the two captures could not be merged (not the same finger?)'],
  [Confirmation.pageOutOfRange, 'page id out of range'],
  [Confirmation.templateReadError, 'template read error or invalid template'],
  [Confirmation.featureUploadFailed, 'feature upload failed'],
  [Confirmation.cannotReceiveData, 'cannot receive the following data packets'],
  [Confirmation.imageUploadFailed, 'image upload failed'],
  [Confirmation.deleteFailed, 'delete failed'],
  [Confirmation.clearLibraryFailed, 'clear library failed'],
  [Confirmation.wrongPassword, 'wrong password'],
  [Confirmation.noValidImage, 'no valid image in the buffer'],
  [Confirmation.flashError, 'flash read/write error'],
  [Confirmation.invalidRegister, 'invalid register number'],
  [Confirmation.addressCodeError, 'address code error'],
  [Confirmation.passwordNotVerified, 'the password must be verified first'],
]);

/** `0x0B page id out of range`; codes the reference does not list read as reserved. */
export function describeConfirmation(code: number): string {
  return `0x${hex8(code)} ${MESSAGES.get(code) ?? 'reserved code'}`;
}
