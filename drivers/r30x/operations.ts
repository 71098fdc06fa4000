import { setTimeout as sleep } from 'node:timers/promises';
import { R30xCommandError, R30xEnrollError, R30xPasswordError } from './errors.js';
import { Confirmation } from './frames/codes.js';
import type { InstructionName, R30xAck } from './frames/instructions.js';
import { INDEX_PAGE_COUNT, PAGES_PER_INDEX_PAGE, interpretSystemParameters, occupiedPages, type R30xSystemParameters } from './frames/replies.js';
import type { R30xQuirks } from './quirks.js';
import type { R30xSession } from './session.js';

/**
 * The operation sequences of device-protocols.md §4.6, each a short
 * conversation on one session. The driver runs one at a time.
 */

/** The char buffer every operation here works in; CharBuffer 2 only holds the second enrolment capture. */
const WORK_BUFFER = 1;

export function requireOk<N extends InstructionName>(ack: R30xAck<N>): R30xAck<N> {
  if (!ack.ok) throw new R30xCommandError(ack.instruction, ack.confirmation);
  return ack;
}

/** Opening: [HandShake], VfyPwd, then ReadSysPara for capacity and packet size, and TemplateNum for the log. */
export async function greet(session: R30xSession, password: number, quirks: R30xQuirks): Promise<{ parameters: R30xSystemParameters; templateCount: number }> {
  if (quirks.greetWithHandshake) requireOk(await session.request('Handshake', {}));
  const verified = await session.request('VfyPwd', { password });
  if (verified.confirmation === Confirmation.wrongPassword) throw new R30xPasswordError();
  requireOk(verified);
  const parameters = await readSystemParameters(session);
  return { parameters, templateCount: await templateCount(session) };
}

export async function templateCount(session: R30xSession): Promise<number> {
  return requireOk(await session.request('TemplateNum', {})).values!.count;
}

/**
 * One poll of the sensor (Identify 1:N):
 *   noFinger     nothing on the sensor
 *   sameTouch    the finger already identified is still there
 *   unreadable   a finger, but no usable image or features; the next poll tries again
 *   identified   found in the library
 *   unknown      a readable finger that is not in the library
 */
export type TouchOutcome =
  | { kind: 'noFinger' }
  | { kind: 'sameTouch' }
  | { kind: 'unreadable'; reason: string }
  | { kind: 'identified'; slot: number; score: number }
  | { kind: 'unknown' };

export async function identifyTouch(session: R30xSession, capacity: number, touchHandled: boolean): Promise<TouchOutcome> {
  const image = await session.request('GenImg', {});
  if (image.confirmation === Confirmation.noFinger) return { kind: 'noFinger' };
  if (touchHandled) return { kind: 'sameTouch' };
  const unreadable = unreadableReason(image) ?? unreadableReason(await session.request('Img2Tz', { buffer: WORK_BUFFER }));
  if (unreadable) return { kind: 'unreadable', reason: unreadable };
  const search = await session.request('Search', { buffer: WORK_BUFFER, startPage: 0, pageCount: capacity });
  if (search.confirmation === Confirmation.notFound) return { kind: 'unknown' };
  const { pageId, score } = requireOk(search).values!;
  return { kind: 'identified', slot: pageId, score };
}

/** Capture and feature failures are about the finger, not the link: the person tries again. Anything else throws. */
const FINGER_PROBLEMS: ReadonlySet<number> = new Set([
  Confirmation.imageCaptureFailed,
  Confirmation.imageTooMessy,
  Confirmation.tooFewFeatures,
  Confirmation.noValidImage,
]);

function unreadableReason(ack: R30xAck<'GenImg' | 'Img2Tz'>): string | undefined {
  if (ack.ok) return undefined;
  if (FINGER_PROBLEMS.has(ack.confirmation)) return new R30xCommandError(ack.instruction, ack.confirmation).message;
  throw new R30xCommandError(ack.instruction, ack.confirmation);
}

export interface EnrollPlan {
  slot: number;
  capacity: number;
  pollIntervalMs: number;
  /** How long each wait for the finger to be placed or lifted may take, in ms. */
  timeoutMs: number;
  rejectDuplicates: boolean;
}

/**
 * Enrol: capture into CharBuffer 1, [Search for a duplicate], wait for the
 * finger to lift, capture into CharBuffer 2, RegModel, Store buffer 1 at
 * the slot.
 */
export async function enrollFinger(session: R30xSession, plan: EnrollPlan): Promise<void> {
  if (!Number.isInteger(plan.slot) || plan.slot < 0 || plan.slot >= plan.capacity) {
    throw new RangeError(`slot must be an integer from 0 to ${plan.capacity - 1} (the module's capacity), got ${plan.slot}`);
  }
  await captureFeatures(session, 1, plan);
  if (plan.rejectDuplicates) {
    const search = await session.request('Search', { buffer: 1, startPage: 0, pageCount: plan.capacity });
    if (search.ok) {
      const existing = search.values!.pageId;
      throw new R30xEnrollError('duplicate', `this finger is already enrolled in slot ${existing}`, existing);
    }
  }
  await waitForSensor(session, 'lifted', plan);
  await captureFeatures(session, 2, plan);
  const merged = await session.request('RegModel', {});
  if (merged.confirmation === Confirmation.mergeFailed) throw new R30xEnrollError('mismatch', 'the two captures are not the same finger (RegModel 0x0A); enrol again');
  requireOk(merged);
  requireOk(await session.request('Store', { buffer: 1, pageId: plan.slot }));
}

/** Waits for a finger and extracts its features into `buffer`, capturing again while the image is unusable. */
async function captureFeatures(session: R30xSession, buffer: number, plan: EnrollPlan): Promise<void> {
  const deadline = performance.now() + plan.timeoutMs;
  for (;;) {
    await waitForSensor(session, 'touched', plan, deadline);
    if (!unreadableReason(await session.request('Img2Tz', { buffer }))) return;
  }
}

/** Polls GenImg until it captures an image (`touched`) or reports no finger (`lifted`). */
async function waitForSensor(session: R30xSession, wanted: 'touched' | 'lifted', plan: EnrollPlan, deadline = performance.now() + plan.timeoutMs): Promise<void> {
  for (;;) {
    const image = await session.request('GenImg', {});
    const lifted = image.confirmation === Confirmation.noFinger;
    if (wanted === 'lifted' ? lifted : image.ok) return;
    if (!lifted) unreadableReason(image);
    if (performance.now() + plan.pollIntervalMs > deadline) {
      throw new R30xEnrollError('timeout', wanted === 'touched' ? `no finger on the sensor within ${plan.timeoutMs} ms` : `the finger was not lifted within ${plan.timeoutMs} ms`);
    }
    await sleep(plan.pollIntervalMs);
  }
}

/** Export: LoadChar the slot into CharBuffer 1, then UpChar it. */
export async function exportTemplate(session: R30xSession, slot: number): Promise<Buffer> {
  requireOk(await session.request('LoadChar', { buffer: WORK_BUFFER, pageId: slot }));
  const { ack, data } = await session.upload(WORK_BUFFER);
  requireOk(ack);
  return data!;
}

/** Import: DownChar into CharBuffer 1 in packets of the module's size, then Store it at the slot. */
export async function importTemplate(session: R30xSession, slot: number, template: Uint8Array, packetSize: number): Promise<void> {
  requireOk(await session.download(WORK_BUFFER, template, packetSize));
  requireOk(await session.request('Store', { buffer: WORK_BUFFER, pageId: slot }));
}

export async function deleteTemplates(session: R30xSession, slot: number, count: number): Promise<void> {
  requireOk(await session.request('DeleteChar', { pageId: slot, count }));
}

export async function emptyLibrary(session: R30xSession): Promise<void> {
  requireOk(await session.request('Empty', {}));
}

export async function readSystemParameters(session: R30xSession): Promise<R30xSystemParameters> {
  return interpretSystemParameters(requireOk(await session.request('ReadSysPara', {})).values!);
}

/** Occupied slots below the capacity, from ReadConList over as many index pages as the capacity needs. */
export async function occupiedSlots(session: R30xSession, capacity: number): Promise<number[]> {
  const slots: number[] = [];
  const indexPages = Math.min(INDEX_PAGE_COUNT, Math.ceil(capacity / PAGES_PER_INDEX_PAGE));
  for (let indexPage = 0; indexPage < indexPages; indexPage++) {
    const bitmap = requireOk(await session.request('ReadConList', { indexPage })).values!.bitmap;
    slots.push(...occupiedPages(indexPage, bitmap).filter((slot) => slot < capacity));
  }
  return slots;
}
