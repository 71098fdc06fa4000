import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { zkGoldenFrames, zkRecordFixtures } from '../../../fixtures/frames/zk/index.js';
import { buildDataset, datasetRecords } from './buffered.js';
import { ZkFrameError } from './errors.js';
import { decodeUser, decodeUsers, encodeUser, type ZkUser } from './users.js';
import { arbitraryNumericId, arbitraryText, decodesOrRejects, hex, plain } from './testSupport.js';

const common = { uid: fc.integer({ min: 0, max: 0xffff }), privilege: fc.integer({ min: 0, max: 255 }), card: fc.integer({ min: 0, max: 0xffffffff }) };
const user72: fc.Arbitrary<ZkUser> = fc
  .record({ ...common, password: arbitraryText(8), name: arbitraryText(23), groupId: arbitraryText(7), userId: arbitraryText(24) })
  .map(plain);
const user28: fc.Arbitrary<ZkUser> = fc
  .record({ ...common, password: arbitraryText(5), name: arbitraryText(8), groupId: arbitraryNumericId(255), userId: arbitraryNumericId() })
  .map(plain);

describe('ZK user records', () => {
  for (const { user, hex: bytes } of zkRecordFixtures.users72) {
    it(`encodes and decodes the 72-byte user ${user.userId}`, () => {
      assert.equal(encodeUser(user, 72).toString('hex'), bytes);
      assert.deepEqual(decodeUser(hex(bytes), 72), user);
    });
  }

  for (const { user, hex: bytes } of zkRecordFixtures.users28) {
    it(`encodes and decodes the 28-byte user ${user.userId}`, () => {
      assert.equal(encodeUser(user, 28).toString('hex'), bytes);
      assert.deepEqual(decodeUser(hex(bytes), 28), user);
    });
  }

  it('decodes the users of the golden frames: a written user and a direct users dataset', () => {
    for (const frame of zkGoldenFrames) {
      const payload = hex(frame.payloadHex);
      if (frame.decoded?.user) assert.deepEqual(decodeUser(payload, 72), frame.decoded.user);
      if (frame.decoded?.users) assert.deepEqual(decodeUsers(datasetRecords(payload), frame.decoded.users.length), frame.decoded.users);
    }
  });

  it('stops text fields at the first NUL, ignoring the garbage devices leave after it', () => {
    const bytes = encodeUser({ uid: 1, privilege: 0, password: '12', name: 'A', card: 0, groupId: '', userId: '7' }, 72);
    bytes.write('\0xyz', 5, 'latin1');
    assert.equal(decodeUser(bytes, 72).password, '12');
  });

  it('round-trips any user in both layouts', () => {
    fc.assert(fc.property(user72, (user) => assert.deepEqual(decodeUser(encodeUser(user, 72), 72), user)));
    fc.assert(fc.property(user28, (user) => assert.deepEqual(decodeUser(encodeUser(user, 28), 28), user)));
  });

  it('tells 28-byte from 72-byte datasets by the user count', () => {
    fc.assert(
      fc.property(fc.array(user28, { minLength: 1, maxLength: 20 }), fc.constantFrom<72 | 28>(72, 28), (users, size) => {
        const records = datasetRecords(buildDataset(Buffer.concat(users.map((user) => encodeUser(user, size)))));
        assert.deepEqual(decodeUsers(records, users.length), users);
      }),
    );
  });

  it('refuses to encode text that does not fit its field, rather than cutting it', () => {
    const user = { uid: 1, privilege: 0, password: '', name: 'x'.repeat(24), card: 0, groupId: '', userId: '1' };
    assert.throws(() => encodeUser(user, 72), ZkFrameError);
    assert.throws(() => encodeUser({ ...user, name: 'A', userId: 'A12' }, 28), ZkFrameError, 'a 28-byte user id is a number');
  });

  it('answers arbitrary bytes with users or a ZkFrameError', () => {
    decodesOrRejects((bytes) => decodeUser(bytes, 72));
    decodesOrRejects((bytes) => decodeUser(bytes, 28));
    decodesOrRejects((bytes) => decodeUsers(bytes, bytes.length % 7));
  });
});
