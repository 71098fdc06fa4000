import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  AGENT_CHANNELS,
  HUB_CHANNELS,
  SOFTWARE_VERSION,
  agentApiValidators,
  agentTopic,
  decode,
  hubApiValidators,
  isUuid,
  parseTopic,
  uuidv7,
  uuidv7Millis,
} from './index.js';

const idArbitrary = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);

test('every topic built for an agent parses back to the same address and channel', () => {
  fc.assert(
    fc.property(idArbitrary, idArbitrary, fc.constantFrom(...AGENT_CHANNELS, ...HUB_CHANNELS), (campusId, agentId, channel) => {
      assert.deepEqual(parseTopic(agentTopic({ campusId, agentId }, channel)), { campusId, agentId, channel });
    }),
  );
});

test('ids with wildcards or separators cannot form a topic, and foreign topics do not parse', () => {
  for (const bad of ['a/b', '+', '#', '', 'x'.repeat(65), 'ü']) {
    assert.throws(() => agentTopic({ campusId: bad, agentId: 'a' }, 'events'), /invalid campus id/);
  }
  for (const topic of ['campushub/v2/main/a1/events', 'campushub/v1/main/a1/unknown', 'campushub/v1/main/events', '$SYS/broker', 'campushub/v1/ma+in/a1/events']) {
    assert.equal(parseTopic(topic), null, topic);
  }
});

test('UUIDv7 ids are valid, carry their millisecond, and sort in creation order even within one millisecond', () => {
  const ids = Array.from({ length: 5000 }, () => uuidv7(1_790_000_000_000));
  assert.ok(ids.every(isUuid));
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
  const later = uuidv7(1_790_000_000_500);
  assert.ok(uuidv7Millis(later) >= 1_790_000_000_500);
  assert.match(later, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test('decoding never throws: random bytes give a typed error', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const results = [
        decode(bytes, agentApiValidators.events),
        decode(bytes, agentApiValidators.status),
        decode(bytes, hubApiValidators.ack),
        decode(bytes, hubApiValidators['cmd/req']),
      ];
      for (const result of results) if (!result.ok) assert.ok(['bad_json', 'schema', 'too_large'].includes(result.error.code));
    }),
  );
});

test('a schema error says which field is wrong', () => {
  const result = decode(Buffer.from(JSON.stringify({ v: 1, batchId: uuidv7(), sentAt: 'noon', events: [{ id: 1 }] })), agentApiValidators.events);
  assert.equal(result.ok, false);
  assert.match(!result.ok ? result.error.message : '', /\/sentAt/);
});

test('the software version in the protocol is the package version', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(SOFTWARE_VERSION, pkg.version);
});
