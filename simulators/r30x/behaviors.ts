import type { R30xFaults } from './faults.js';
import { isMatch, matchScore } from './fingers.js';
import type { R30xModuleState } from './state.js';

/**
 * What a behaviour answers to one command:
 *   a reply    the ack, plus data the module uploads or takes after it
 *   'silent'   no answer at all
 *   undefined  not mine: ask the next older behaviour
 */
export interface ModuleReply {
  confirmation: number;
  /** Return values after the confirmation byte. */
  values?: Uint8Array;
  /** Bytes the module sends in data packets after an OK ack (UpChar). */
  upload?: Uint8Array;
  /**
   * After an OK ack the module takes the host's data packets (DownChar) and
   * hands over their joined payload, or undefined when they broke the
   * module's packet size or the transfer was cut short.
   */
  download?: (data: Buffer | undefined) => void;
}

export type BehaviorResult = ModuleReply | 'silent' | undefined;

export interface BehaviorContext {
  state: R30xModuleState;
  faults: R30xFaults;
}

export interface R30xBehavior {
  instruction: number;
  handle(context: BehaviorContext, parameters: Buffer): BehaviorResult;
}

/** Confirmation codes the simulator sends (device-protocols.md §4.3). */
export const Code = {
  ok: 0x00,
  packetError: 0x01,
  noFinger: 0x02,
  notFound: 0x09,
  mergeFailed: 0x0a,
  badPage: 0x0b,
  readError: 0x0c,
  uploadFailed: 0x0d,
  deleteFailed: 0x10,
  wrongPassword: 0x13,
  noImage: 0x15,
  mustVerifyPassword: 0x21,
} as const;

const OK: ModuleReply = { confirmation: Code.ok };
const PACKET_ERROR: ModuleReply = { confirmation: Code.packetError };

function reply(confirmation: number, values?: Uint8Array): ModuleReply {
  return values ? { confirmation, values } : { confirmation };
}

function u16(value: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(value);
  return bytes;
}

/** Parameters must be exactly as long as the instruction's layout; anything else is a garbled packet. */
function withParameters(parameters: Buffer, length: number, handle: () => ModuleReply): ModuleReply {
  return parameters.length === length ? handle() : PACKET_ERROR;
}

function isCharBuffer(buffer: number): boolean {
  return buffer === 1 || buffer === 2;
}

function search({ state }: BehaviorContext, parameters: Buffer): ModuleReply {
  return withParameters(parameters, 5, () => {
    const features = state.charBuffers.get(parameters[0]!);
    const start = parameters.readUInt16BE(1);
    const end = Math.min(start + parameters.readUInt16BE(3), state.settings.capacity);
    let best = { page: 0, score: 0 };
    if (features) {
      for (const [page, template] of state.library) {
        if (page < start || page >= end) continue;
        const score = matchScore(features, template);
        if (score > best.score) best = { page, score };
      }
    }
    const found = features !== undefined && isMatch(best.score, state.settings.securityLevel);
    // The ack carries page and score even when nothing is found (§4.2).
    return reply(found ? Code.ok : Code.notFound, Buffer.concat([u16(found ? best.page : 0), u16(found ? best.score : 0)]));
  });
}

/**
 * The ZFM-20 manual's instruction set as this simulator plays it. Where the
 * manual says nothing (Store or UpChar of an empty char buffer, an
 * instruction the module does not know) the choices are marked.
 */
export const defaultBehaviors: readonly R30xBehavior[] = [
  { instruction: 0x01, handle: ({ state }) => (state.captureImage() ? OK : reply(Code.noFinger)) },
  {
    instruction: 0x02,
    handle: ({ state }, parameters) =>
      withParameters(parameters, 1, () => {
        if (!isCharBuffer(parameters[0]!)) return PACKET_ERROR;
        if (!state.image) return reply(Code.noImage);
        state.charBuffers.set(parameters[0]!, state.featuresOf(state.image));
        return OK;
      }),
  },
  { instruction: 0x04, handle: search },
  {
    instruction: 0x05,
    handle: ({ state }) => {
      const first = state.charBuffers.get(1);
      const second = state.charBuffers.get(2);
      if (!first || !second || !isMatch(matchScore(first, second), state.settings.securityLevel)) return reply(Code.mergeFailed);
      // With two captures there is no majority to vote with, so the first stands for the finger.
      state.charBuffers.set(2, Buffer.from(first));
      return OK;
    },
  },
  {
    instruction: 0x06,
    handle: ({ state }, parameters) =>
      withParameters(parameters, 3, () => {
        const features = state.charBuffers.get(parameters[0]!);
        const page = parameters.readUInt16BE(1);
        if (page >= state.settings.capacity) return reply(Code.badPage);
        // Simulator choice: storing an empty char buffer fails like an invalid template.
        if (!features) return reply(Code.readError);
        state.library.set(page, Buffer.from(features));
        return OK;
      }),
  },
  {
    instruction: 0x07,
    handle: ({ state }, parameters) =>
      withParameters(parameters, 3, () => {
        const page = parameters.readUInt16BE(1);
        if (!isCharBuffer(parameters[0]!)) return PACKET_ERROR;
        if (page >= state.settings.capacity) return reply(Code.badPage);
        const template = state.library.get(page);
        if (!template) return reply(Code.readError);
        state.charBuffers.set(parameters[0]!, Buffer.from(template));
        return OK;
      }),
  },
  {
    instruction: 0x08,
    handle: ({ state }, parameters) =>
      withParameters(parameters, 1, () => {
        const features = state.charBuffers.get(parameters[0]!);
        // Simulator choice: an empty char buffer has nothing to upload.
        return features ? { confirmation: Code.ok, upload: features } : reply(Code.uploadFailed);
      }),
  },
  {
    instruction: 0x09,
    handle: ({ state }, parameters) =>
      withParameters(parameters, 1, () => {
        const buffer = parameters[0]!;
        if (!isCharBuffer(buffer)) return PACKET_ERROR;
        return {
          confirmation: Code.ok,
          download: (data) => {
            if (data && data.length === state.settings.templateSize) state.charBuffers.set(buffer, data);
            else state.charBuffers.delete(buffer);
          },
        };
      }),
  },
  {
    instruction: 0x0c,
    handle: ({ state }, parameters) =>
      withParameters(parameters, 4, () => {
        const first = parameters.readUInt16BE(0);
        const count = parameters.readUInt16BE(2);
        if (count === 0 || first + count > state.settings.capacity) return reply(Code.deleteFailed);
        for (let page = first; page < first + count; page++) state.library.delete(page);
        return OK;
      }),
  },
  {
    instruction: 0x0d,
    handle: ({ state }) => {
      state.library.clear();
      return OK;
    },
  },
  {
    instruction: 0x0f,
    handle: ({ state }) => {
      const { settings } = state;
      const status = (state.passwordVerified ? 0b0100 : 0) | (state.image ? 0b1000 : 0);
      const values = Buffer.alloc(16);
      values.writeUInt16BE(status, 0);
      values.writeUInt16BE(0, 2);
      values.writeUInt16BE(settings.capacity, 4);
      values.writeUInt16BE(settings.securityLevel, 6);
      values.writeUInt32BE(settings.address >>> 0, 8);
      values.writeUInt16BE(settings.packetSizeCode, 12);
      values.writeUInt16BE(settings.baudMultiplier, 14);
      return reply(Code.ok, values);
    },
  },
  {
    instruction: 0x13,
    handle: ({ state, faults }, parameters) =>
      withParameters(parameters, 4, () => {
        state.passwordVerified = !faults.passwordRejected && parameters.readUInt32BE(0) === state.settings.password;
        return reply(state.passwordVerified ? Code.ok : Code.wrongPassword);
      }),
  },
  { instruction: 0x1d, handle: ({ state }) => reply(Code.ok, u16(state.library.size)) },
  {
    instruction: 0x1f,
    handle: ({ state }, parameters) =>
      withParameters(parameters, 1, () => {
        const indexPage = parameters[0]!;
        if (indexPage > 3) return reply(Code.badPage);
        const bitmap = Buffer.alloc(32);
        for (const page of state.library.keys()) {
          const offset = page - indexPage * 256;
          if (offset >= 0 && offset < 256) bitmap[offset >> 3]! |= 1 << (offset & 7);
        }
        return reply(Code.ok, bitmap);
      }),
  },
  // R503 manual V1.2.2: HandShake answers 0x00 when the module is ready.
  { instruction: 0x40, handle: () => OK },
];

/** Simulator choice: an instruction no behaviour knows is answered as a garbled packet. */
export const UNKNOWN_INSTRUCTION_REPLY: ModuleReply = PACKET_ERROR;
