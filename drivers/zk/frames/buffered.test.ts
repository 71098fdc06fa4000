import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { zkGoldenFrames, zkPacketVectors } from '../../../fixtures/frames/zk/index.js';
import { BufferAnnouncement, ChunkRequest, Dataset, DatasetRequest, MAX_CHUNK, PrepareData, buildDataset, datasetRecords, planChunks, recordSizeFor } from './buffered.js';
import { ZkFrameError } from './errors.js';
import { ZkPacket } from './packet.js';
import { arbitraryBytes, decodesOrRejects, hex } from './testSupport.js';

const payloadOf = (name: string) => ZkPacket.fromTcp(hex(zkPacketVectors.find((vector) => vector.name === name)!.hex)).payload;

describe('ZK buffered-read payloads', () => {
  it('encodes the captured 1503 request for users', () => {
    assert.equal(Dataset.users.serialize().toString('hex'), payloadOf('1503, read users').toString('hex'));
    assert.deepEqual(DatasetRequest.from(payloadOf('1503, read users')), Dataset.users);
  });

  it('encodes the fixed payloads the clients send for attendance, templates and the operation log', () => {
    assert.equal(Dataset.attendance.serialize().toString('hex'), '010d000000000000000000');
    assert.equal(Dataset.templates.serialize().toString('hex'), '0107000200000000000000');
    assert.equal(Dataset.oplog.serialize().toString('hex'), '0122000000000000000000');
  });

  it('reads the dataset size and checksum word from the captured buffered reply', () => {
    const announcement = BufferAnnouncement.from(payloadOf('ACK_OK with buffer size 5044'));
    assert.equal(announcement.size, 5044);
    assert.equal(announcement.checksum, 0x0023efcd);
    assert.equal(announcement.serialize().toString('hex'), '00b4130000b4130000cdef2300');
  });

  it('reads the chunk size and packet size from the captured PREPARE_DATA', () => {
    const prepared = PrepareData.from(payloadOf('PREPARE_DATA, 5044 bytes'));
    assert.deepEqual({ ...prepared }, { size: 5044, packetSize: 1008 });
    assert.equal(new PrepareData(5044).serialize().toString('hex'), 'b4130000');
  });

  it('decodes every buffered-read payload of the golden frames', () => {
    for (const frame of zkGoldenFrames) {
      const payload = hex(frame.payloadHex);
      const meaning = frame.decoded ?? {};
      if (meaning.datasetRequest) assert.deepEqual({ ...DatasetRequest.from(payload) }, meaning.datasetRequest, frame.name);
      if (meaning.chunkRequest) assert.deepEqual({ ...ChunkRequest.from(payload) }, meaning.chunkRequest, frame.name);
      if (meaning.prepareData) assert.deepEqual({ ...PrepareData.from(payload) }, meaning.prepareData, frame.name);
      if (meaning.announcement) assert.equal(BufferAnnouncement.from(payload).size, meaning.announcement.size, frame.name);
    }
  });

  it('plans chunks that cover the dataset exactly, in order, none above the maximum', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2_000_000 }), fc.constantFrom(MAX_CHUNK.tcp, MAX_CHUNK.udp, 1024), (size, max) => {
        const chunks = planChunks(size, max);
        let next = 0;
        for (const chunk of chunks) {
          assert.equal(chunk.start, next);
          assert.ok(chunk.size > 0 && chunk.size <= max);
          next += chunk.size;
        }
        assert.equal(next, size);
      }),
    );
  });

  it('round-trips every request and announcement', () => {
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    fc.assert(
      fc.property(u32, u32, (a, b) => {
        assert.deepEqual(ChunkRequest.from(new ChunkRequest(a, b).serialize()), new ChunkRequest(a, b));
        assert.deepEqual(PrepareData.from(new PrepareData(a, b).serialize()), new PrepareData(a, b));
        assert.deepEqual(BufferAnnouncement.from(new BufferAnnouncement(a, b).serialize()), new BufferAnnouncement(a, b));
      }),
    );
  });

  it('round-trips a dataset through its byte-count prefix', () => {
    fc.assert(fc.property(arbitraryBytes(500), (records) => assert.ok(datasetRecords(buildDataset(records)).equals(records))));
  });

  it('rejects a dataset that announces more bytes than it holds', () => {
    assert.throws(() => datasetRecords(hex('0a00000001')), (error: unknown) => error instanceof ZkFrameError && error.code === 'truncated');
  });

  it('picks the record size that divides the byte count into the reported count', () => {
    assert.equal(recordSizeFor(720, 10, [72, 28]), 72);
    assert.equal(recordSizeFor(280, 10, [72, 28]), 28);
    assert.equal(recordSizeFor(80, 10, [40, 16, 8]), 8);
    assert.equal(recordSizeFor(440, 10, [40, 16, 8]), 40, 'one record arrived after the count was read');
    assert.equal(recordSizeFor(80, 4, [40, 16, 8]), 16, 'one 16-byte record arrived after the count was read');
    assert.equal(recordSizeFor(88, 2, [40, 16, 8]), null, 'eleven 8-byte records are too far from two');
    assert.equal(recordSizeFor(100, 10, [72, 28]), null);
  });

  it('answers arbitrary bytes with a payload or a ZkFrameError', () => {
    decodesOrRejects((bytes) => DatasetRequest.from(bytes));
    decodesOrRejects((bytes) => BufferAnnouncement.from(bytes));
    decodesOrRejects((bytes) => ChunkRequest.from(bytes));
    decodesOrRejects((bytes) => PrepareData.from(bytes));
    decodesOrRejects((bytes) => datasetRecords(bytes));
  });
});
