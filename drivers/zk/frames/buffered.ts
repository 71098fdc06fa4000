import { ZkFrameError, requireBytes, requireInteger } from './errors.js';
import { view } from './fields.js';

/**
 * Buffered bulk read (device-protocols.md §2.8).
 *
 *   1503 request, 11 bytes      0 u8 01 | 1 i16le inner command | 3 i32le fct | 7 i32le ext (0)
 *   1503 reply A                CMD_DATA carrying the whole dataset
 *   1503 reply B, ACK_OK + 13   0 u8 00 | 1 u32le dataset size | 5 u32le size again | 9 u32le unknown
 *   1504 request, 8 bytes       0 u32le start | 4 u32le size
 *   1504 reply                  PREPARE_DATA (u32le size, u32le packet size) · DATA × n · ACK_OK (empty)
 *   dataset                     0 u32le byte count of the records | 4 records
 */
export class DatasetRequest {
  constructor(
    readonly innerCommand: number,
    readonly fct: number,
    readonly ext = 0,
  ) {
    requireInteger(innerCommand, -0x8000, 0x7fff, 'inner command');
    requireInteger(fct, -0x80000000, 0x7fffffff, 'fct');
    requireInteger(ext, -0x80000000, 0x7fffffff, 'ext');
  }

  static from(payload: Uint8Array): DatasetRequest {
    requireBytes(payload, 11, '1503 request');
    const data = view(payload);
    return new DatasetRequest(data.readInt16LE(1), data.readInt32LE(3), data.readInt32LE(7));
  }

  serialize(): Buffer {
    const bytes = Buffer.alloc(11);
    bytes.writeUInt8(1, 0);
    bytes.writeInt16LE(this.innerCommand, 1);
    bytes.writeInt32LE(this.fct, 3);
    bytes.writeInt32LE(this.ext, 7);
    return bytes;
  }
}

/** The datasets the clients read; attendance goes with fct 0 although pyzk's FCT_ATTLOG is 1 (§2.8). */
export const Dataset = {
  users: new DatasetRequest(9, 5),
  attendance: new DatasetRequest(13, 0),
  templates: new DatasetRequest(7, 2),
  oplog: new DatasetRequest(34, 0),
} as const;

export class BufferAnnouncement {
  constructor(
    readonly size: number,
    readonly checksum = 0,
  ) {
    requireInteger(size, 0, 0xffffffff, 'dataset size');
    requireInteger(checksum, 0, 0xffffffff, 'buffer checksum');
  }

  /** Clients read only the first size field; a short tail is tolerated the same way. */
  static from(payload: Uint8Array): BufferAnnouncement {
    requireBytes(payload, 5, 'buffered-read announcement');
    const data = view(payload);
    return new BufferAnnouncement(data.readUInt32LE(1), data.length >= 13 ? data.readUInt32LE(9) : 0);
  }

  serialize(): Buffer {
    const bytes = Buffer.alloc(13);
    bytes.writeUInt32LE(this.size, 1);
    bytes.writeUInt32LE(this.size, 5);
    bytes.writeUInt32LE(this.checksum, 9);
    return bytes;
  }
}

export class ChunkRequest {
  constructor(
    readonly start: number,
    readonly size: number,
  ) {
    requireInteger(start, 0, 0xffffffff, 'chunk start');
    requireInteger(size, 0, 0xffffffff, 'chunk size');
  }

  static from(payload: Uint8Array): ChunkRequest {
    requireBytes(payload, 8, '1504 request');
    const data = view(payload);
    return new ChunkRequest(data.readUInt32LE(0), data.readUInt32LE(4));
  }

  serialize(): Buffer {
    const bytes = Buffer.alloc(8);
    bytes.writeUInt32LE(this.start, 0);
    bytes.writeUInt32LE(this.size, 4);
    return bytes;
  }
}

/**
 * CMD_PREPARE_DATA payload: 8 bytes from the device before a chunk (the second
 * word, captured as 1008, looks like the DATA packet size and is ignored), or
 * the bare u32 size a client sends before an upload (§2.10).
 */
export class PrepareData {
  constructor(
    readonly size: number,
    readonly packetSize: number | null = null,
  ) {
    requireInteger(size, 0, 0xffffffff, 'prepared size');
    if (packetSize !== null) requireInteger(packetSize, 0, 0xffffffff, 'packet size');
  }

  static from(payload: Uint8Array): PrepareData {
    requireBytes(payload, 4, 'PREPARE_DATA payload');
    const data = view(payload);
    return new PrepareData(data.readUInt32LE(0), data.length >= 8 ? data.readUInt32LE(4) : null);
  }

  serialize(): Buffer {
    const bytes = Buffer.alloc(this.packetSize === null ? 4 : 8);
    bytes.writeUInt32LE(this.size, 0);
    if (this.packetSize !== null) bytes.writeUInt32LE(this.packetSize, 4);
    return bytes;
  }
}

/** Largest READ_BUFFER chunk over TCP (pyzk, node-zklib MAX_CHUNK) and over UDP (pyzk). */
export const MAX_CHUNK = { tcp: 0xffc0, udp: 16 * 1024 } as const;

/** The READ_BUFFER requests that cover `size` bytes, `maxChunk` at a time. */
export function planChunks(size: number, maxChunk: number): ChunkRequest[] {
  requireInteger(maxChunk, 1, 0xffffffff, 'chunk size');
  const chunks: ChunkRequest[] = [];
  for (let start = 0; start < size; start += maxChunk) chunks.push(new ChunkRequest(start, Math.min(maxChunk, size - start)));
  return chunks;
}

/** Splits a dataset into its records, checking the leading byte count against what arrived. */
export function datasetRecords(dataset: Uint8Array): Buffer {
  requireBytes(dataset, 4, 'dataset');
  const data = view(dataset);
  const total = data.readUInt32LE(0);
  if (total > data.length - 4) throw new ZkFrameError('truncated', `dataset announces ${total} bytes of records, holds ${data.length - 4}`);
  return data.subarray(4, 4 + total);
}

export function buildDataset(records: Uint8Array): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32LE(records.length);
  return Buffer.concat([head, records]);
}

/** Records a device may add between the GET_FREE_SIZES read and the dataset read. */
const STALE_COUNT_SLACK = 2;

/**
 * The record size of a dataset, from its byte count and the record count
 * GET_FREE_SIZES reported (pyzk's rule, §2.13 rule 11): the size that divides
 * the byte count into exactly the reported count; failing that, because a
 * record arrived between the two reads, the dividing size whose count comes
 * closest, within a slack of STALE_COUNT_SLACK. `null` when none fits.
 */
export function recordSizeFor(total: number, count: number, sizes: readonly number[]): number | null {
  const distance = (size: number) => Math.abs(total / size - count);
  const fitting = sizes.filter((size) => total % size === 0 && distance(size) <= STALE_COUNT_SLACK);
  return fitting.reduce<number | null>((best, size) => (best === null || distance(size) < distance(best) ? size : best), null);
}

/** Decodes back-to-back records `stride` bytes apart; a short tail is ignored, as every client does. */
export function decodeEach<T>(records: Buffer, stride: number, decode: (record: Buffer) => T): T[] {
  const out: T[] = [];
  for (let offset = 0; offset + stride <= records.length; offset += stride) out.push(decode(records.subarray(offset, offset + stride)));
  return out;
}
