import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AGENT_CHANNELS, agentTopic } from '../../protocol/index.js';
import { mayPublish, type BrokerIdentity } from './acl.js';

const agent: BrokerIdentity = { kind: 'agent', address: { campusId: 'main', agentId: 'agent-1' }, serial: '01' };

test('an agent may publish delivery watermarks on its own sync channel only', () => {
  assert.ok(mayPublish(agent, agentTopic({ campusId: 'main', agentId: 'agent-1' }, 'sync')));
  assert.ok(!mayPublish(agent, agentTopic({ campusId: 'main', agentId: 'agent-2' }, 'sync')));
  assert.ok(!mayPublish(agent, agentTopic({ campusId: 'north', agentId: 'agent-1' }, 'sync')));
});

test('the Mosquitto ACL lets agents write every agent channel, and no other', () => {
  const acl = readFileSync(new URL('../../deploy/mosquitto/campushub.acl', import.meta.url), 'utf8');
  const written = [...acl.matchAll(/^pattern write campushub\/v1\/%u\/(\S+)$/gm)].map((match) => match[1]);
  assert.deepEqual(written.sort(), [...AGENT_CHANNELS].sort());
});
