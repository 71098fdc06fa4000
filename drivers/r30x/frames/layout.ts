import { R30xFrameError, requireInteger } from './errors.js';

/**
 * Instruction parameters and ack return values are fixed sequences of
 * big-endian fields (device-protocols.md §4.2). A layout names them in wire
 * order (object key order), so one description serves encoding and decoding.
 */
export type FieldType = 'u8' | 'u16' | 'u32' | 'bytes32';
export type Layout = Readonly<Record<string, FieldType>>;
type FieldValue<T extends FieldType> = T extends 'bytes32' ? Buffer : number;
export type LayoutValues<L extends Layout> = { readonly [K in keyof L]: FieldValue<L[K]> };

const FIELD_SIZE: Readonly<Record<FieldType, number>> = { u8: 1, u16: 2, u32: 4, bytes32: 32 };
const INTEGER_MAX: Readonly<Record<Exclude<FieldType, 'bytes32'>, number>> = { u8: 0xff, u16: 0xffff, u32: 0xffffffff };

export function layoutSize(layout: Layout): number {
  return Object.values(layout).reduce((size, type) => size + FIELD_SIZE[type], 0);
}

export function encodeLayout<L extends Layout>(layout: L, values: LayoutValues<L>, what: string): Buffer {
  const bytes = Buffer.alloc(layoutSize(layout));
  let offset = 0;
  for (const [name, type] of Object.entries(layout)) {
    const value = (values as Record<string, number | Buffer | undefined>)[name];
    if (type === 'bytes32') {
      if (!Buffer.isBuffer(value) || value.length !== FIELD_SIZE.bytes32) {
        throw new R30xFrameError('range', `${what} ${name} must be ${FIELD_SIZE.bytes32} bytes`);
      }
      value.copy(bytes, offset);
    } else {
      if (typeof value !== 'number') throw new R30xFrameError('range', `${what} ${name} is missing`);
      requireInteger(value, 0, INTEGER_MAX[type], `${what} ${name}`);
      bytes.writeUIntBE(value, offset, FIELD_SIZE[type]);
    }
    offset += FIELD_SIZE[type];
  }
  return bytes;
}

/** Decodes `bytes`, which must be exactly as long as the layout. */
export function decodeLayout<L extends Layout>(layout: L, bytes: Buffer, what: string): LayoutValues<L> {
  const size = layoutSize(layout);
  if (bytes.length !== size) throw new R30xFrameError('length', `${what} has ${bytes.length} bytes, its layout ${size}`);
  const values: Record<string, number | Buffer> = {};
  let offset = 0;
  for (const [name, type] of Object.entries(layout)) {
    values[name] = type === 'bytes32' ? Buffer.from(bytes.subarray(offset, offset + FIELD_SIZE.bytes32)) : bytes.readUIntBE(offset, FIELD_SIZE[type]);
    offset += FIELD_SIZE[type];
  }
  return values as LayoutValues<L>;
}
