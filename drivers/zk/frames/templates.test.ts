import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { zkGoldenFrames, zkRecordFixtures } from '../../../fixtures/frames/zk/index.js';
import { ZkFrameError } from './errors.js';
import {
  decodeTemplates,
  decodeUserTemplateBatch,
  encodeTemplateEntry,
  encodeUserTemplateBatch,
  TemplateSlot,
  TemplateWrite,
  type UserWithTemplates,
  type ZkTemplate,
} from './templates.js';
import { arbitraryBytes, arbitraryNumericId, arbitraryText, decodesOrRejects, hex, plain } from './testSupport.js';

const arbitraryTemplate: fc.Arbitrary<ZkTemplate> = fc
  .record({
    uid: fc.integer({ min: 0, max: 0xffff }),
    fingerIndex: fc.integer({ min: 0, max: 9 }),
    flag: fc.constantFrom(0, 1, 3),
    template: arbitraryBytes(600),
  })
  .map(plain);

/** 28-byte users, whose user ids are numbers; the batch code does not care which layout. */
const arbitraryBatch: fc.Arbitrary<UserWithTemplates[]> = fc
  .uniqueArray(fc.integer({ min: 1, max: 0xffff }), { maxLength: 6 }).chain((uids) =>
    fc.tuple(
      ...uids.map((uid) =>
        fc
          .record({
            user: fc
              .record({
                uid: fc.constant(uid),
                privilege: fc.constantFrom(0, 14),
                password: arbitraryText(5),
                name: arbitraryText(8),
                card: fc.integer({ min: 0, max: 0xffffffff }),
                groupId: arbitraryNumericId(255),
                userId: arbitraryNumericId(),
              })
              .map(plain),
            templates: fc.array(fc.record({ fingerIndex: fc.integer({ min: 0, max: 9 }), template: arbitraryBytes(300) }).map(plain), { maxLength: 3 }),
          })
          .map(plain),
      ),
    ),
  );

describe('ZK template payloads', () => {
  for (const { template, hex: bytes } of zkRecordFixtures.templates) {
    it(`encodes and decodes the dataset entry of uid ${template.uid}, finger ${template.fingerIndex}`, () => {
      const entry = { ...template, template: hex(template.template) };
      assert.equal(encodeTemplateEntry(entry).toString('hex'), bytes);
      assert.deepEqual(decodeTemplates(hex(bytes)), [entry]);
    });
  }

  it('decodes the slot and TMP_WRITE payloads of the golden frames', () => {
    for (const frame of zkGoldenFrames) {
      const payload = hex(frame.payloadHex);
      if (frame.decoded?.templateSlot) assert.deepEqual({ ...TemplateSlot.from(payload) }, frame.decoded.templateSlot);
      if (frame.decoded?.templateWrite) assert.deepEqual({ ...TemplateWrite.from(payload) }, frame.decoded.templateWrite);
    }
  });

  it('round-trips any templates dataset', () => {
    fc.assert(
      fc.property(fc.array(arbitraryTemplate, { maxLength: 8 }), (templates) => {
        assert.deepEqual(decodeTemplates(Buffer.concat(templates.map(encodeTemplateEntry))), templates);
      }),
    );
  });

  it('round-trips any upload batch of users with templates', () => {
    fc.assert(fc.property(arbitraryBatch, (entries) => assert.deepEqual(decodeUserTemplateBatch(encodeUserTemplateBatch(entries, 28), 28), entries)));
  });

  it('encodes the 28-byte batch fixture', () => {
    const [entry] = decodeUserTemplateBatch(hex(zkRecordFixtures.templateBatch28.hex), 28);
    assert.equal(encodeUserTemplateBatch([entry!], 28).toString('hex'), zkRecordFixtures.templateBatch28.hex);
    assert.equal(entry!.templates[0]!.fingerIndex, 6);
  });

  it('rejects a dataset whose entry sizes do not add up to its byte count', () => {
    const entry = encodeTemplateEntry({ uid: 1, fingerIndex: 0, flag: 1, template: Buffer.alloc(10) });
    assert.throws(() => decodeTemplates(entry.subarray(0, 12)), (error: unknown) => error instanceof ZkFrameError && error.code === 'length');
  });

  it('answers arbitrary bytes with templates or a ZkFrameError', () => {
    decodesOrRejects((bytes) => decodeTemplates(bytes));
    decodesOrRejects((bytes) => decodeUserTemplateBatch(bytes, 28));
    decodesOrRejects((bytes) => decodeUserTemplateBatch(bytes, 72));
    decodesOrRejects((bytes) => TemplateSlot.from(bytes));
    decodesOrRejects((bytes) => TemplateWrite.from(bytes));
  });
});
