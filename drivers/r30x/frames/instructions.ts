import { Confirmation } from './codes.js';
import { R30xFrameError } from './errors.js';
import { decodeLayout, encodeLayout, type Layout, type LayoutValues } from './layout.js';
import { DEFAULT_ADDRESS, Pid, R30xPacket, hex8 } from './packet.js';

/**
 * Data packets that follow an OK ack (§4.5): the module sends them
 * (`toHost`: UpChar), or the host does (`toModule`: DownChar). Neither side
 * acks data packets.
 */
export type DataTransfer = 'toHost' | 'toModule';

export interface InstructionSpec<P extends Layout = Layout, A extends Layout = Layout> {
  readonly code: number;
  /** Fields after the instruction byte of the command. */
  readonly parameters: P;
  /** Fields after the confirmation byte of the ack. */
  readonly ackValues: A;
  readonly transfer?: DataTransfer;
}

function spec<const P extends Layout, const A extends Layout>(code: number, parameters: P, ackValues: A, transfer?: DataTransfer): InstructionSpec<P, A> {
  return Object.freeze({ code, parameters, ackValues, ...(transfer ? { transfer } : {}) });
}

/**
 * The instructions the driver uses (device-protocols.md §4.2, named as in
 * the ZFM-20 manual). Every one of them may be sent twice without harm
 * (RegModel of an already merged pair merges it again), which is what lets
 * the session resend a command whose ack was lost. Page ids count from 0.
 */
export const Instructions = {
  /** Capture an image into the image buffer; 0x02 while no finger is on the sensor. */
  GenImg: spec(0x01, {}, {}),
  /** Extract features from the image buffer into CharBuffer 1 or 2. */
  Img2Tz: spec(0x02, { buffer: 'u8' }, {}),
  /** 1:N search of a char buffer over a page range. The ack carries both fields even on 0x09 (not found). */
  Search: spec(0x04, { buffer: 'u8', startPage: 'u16', pageCount: 'u16' }, { pageId: 'u16', score: 'u16' }),
  /** Merge CharBuffer 1 and 2 into one template, stored back in both. */
  RegModel: spec(0x05, {}, {}),
  Store: spec(0x06, { buffer: 'u8', pageId: 'u16' }, {}),
  LoadChar: spec(0x07, { buffer: 'u8', pageId: 'u16' }, {}),
  /** Char buffer → host, in data packets after the ack. */
  UpChar: spec(0x08, { buffer: 'u8' }, {}, 'toHost'),
  /** Host → char buffer, in data packets after the ack. */
  DownChar: spec(0x09, { buffer: 'u8' }, {}, 'toModule'),
  DeleteChar: spec(0x0c, { pageId: 'u16', count: 'u16' }, {}),
  Empty: spec(0x0d, {}, {}),
  /** The 16-byte system parameter block (§4.4). */
  ReadSysPara: spec(
    0x0f,
    {},
    { status: 'u16', systemId: 'u16', capacity: 'u16', securityLevel: 'u16', address: 'u32', packetSizeCode: 'u16', baudMultiplier: 'u16' },
  ),
  VfyPwd: spec(0x13, { password: 'u32' }, {}),
  /** TempleteNum in the manual: how many pages hold a template. */
  TemplateNum: spec(0x1d, {}, { count: 'u16' }),
  /** ReadIndexTable on the R503: which of 256 pages hold a template, as a bitmap. */
  ReadConList: spec(0x1f, { indexPage: 'u8' }, { bitmap: 'bytes32' }),
  /** R503 manual V1.2.2 HandShake: 0x00 when the module is ready for instructions. */
  Handshake: spec(0x40, {}, {}),
} as const;

export type InstructionName = keyof typeof Instructions;
export type CommandParameters<N extends InstructionName> = LayoutValues<(typeof Instructions)[N]['parameters']>;
export type AckValues<N extends InstructionName> = LayoutValues<(typeof Instructions)[N]['ackValues']>;

const NAME_BY_CODE: ReadonlyMap<number, InstructionName> = new Map(
  (Object.keys(Instructions) as InstructionName[]).map((name) => [Instructions[name].code, name]),
);

/** A command packet: instruction code, then its parameters. */
export class R30xCommand<N extends InstructionName = InstructionName> {
  constructor(
    readonly instruction: N,
    readonly parameters: CommandParameters<N>,
    readonly address: number = DEFAULT_ADDRESS,
  ) {}

  get spec(): InstructionSpec {
    return Instructions[this.instruction];
  }

  static from(packet: R30xPacket): AnyR30xCommand {
    if (packet.pid !== Pid.command) throw new R30xFrameError('pid', `a command has PID 01, this packet 0x${hex8(packet.pid)}`);
    const code = packet.payload[0]!;
    const instruction = NAME_BY_CODE.get(code);
    if (!instruction) throw new R30xFrameError('layout', `unknown instruction 0x${hex8(code)}`);
    const parameters = decodeLayout(Instructions[instruction].parameters, packet.payload.subarray(1), `${instruction} parameters`);
    return new R30xCommand(instruction, parameters as never, packet.address) as AnyR30xCommand;
  }

  toPacket(): R30xPacket {
    const parameters = encodeLayout<Layout>(this.spec.parameters, this.parameters, `${this.instruction} parameter`);
    return new R30xPacket(Pid.command, Buffer.concat([Buffer.of(this.spec.code), parameters]), this.address);
  }

  serialize(): Buffer {
    return this.toPacket().serialize();
  }
}

export type AnyR30xCommand = { [N in InstructionName]: R30xCommand<N> }[InstructionName];

/**
 * An ack packet: confirmation code, then the instruction's return values.
 * Acks do not name their instruction, so decoding needs it. Values are
 * present whenever the packet carries them, which an OK ack must; a failure
 * ack may be the confirmation byte alone.
 */
export class R30xAck<N extends InstructionName = InstructionName> {
  constructor(
    readonly instruction: N,
    readonly confirmation: number,
    readonly values: AckValues<N> | undefined,
    readonly address: number = DEFAULT_ADDRESS,
  ) {}

  get ok(): boolean {
    return this.confirmation === Confirmation.ok;
  }

  static from<N extends InstructionName>(instruction: N, packet: R30xPacket): R30xAck<N> {
    if (packet.pid !== Pid.ack) throw new R30xFrameError('pid', `an ack has PID 07, this packet 0x${hex8(packet.pid)}`);
    const confirmation = packet.payload[0]!;
    const rest = packet.payload.subarray(1);
    const layout = Instructions[instruction].ackValues;
    if (rest.length === 0 && confirmation !== Confirmation.ok) return new R30xAck(instruction, confirmation, undefined, packet.address);
    const values = decodeLayout(layout, rest, `${instruction} ack values`) as AckValues<N>;
    return new R30xAck(instruction, confirmation, values, packet.address);
  }

  toPacket(): R30xPacket {
    if (this.ok && !this.values) throw new R30xFrameError('layout', `an OK ${this.instruction} ack carries its return values`);
    const layout = Instructions[this.instruction].ackValues;
    const values = this.values ? encodeLayout<Layout>(layout, this.values, `${this.instruction} ack value`) : Buffer.alloc(0);
    return new R30xPacket(Pid.ack, Buffer.concat([Buffer.of(this.confirmation), values]), this.address);
  }

  serialize(): Buffer {
    return this.toPacket().serialize();
  }
}
