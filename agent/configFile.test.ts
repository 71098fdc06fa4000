import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../test/support/tempDir.js';
import { agentDefaults, type AgentConfig } from './config.js';
import { AgentConfigFileError, applyConfigFile, readAgentConfigFile } from './configFile.js';

const base: AgentConfig = { ...agentDefaults(), agentId: 'a', campusId: 'main', mqttUrl: 'mqtt://127.0.0.1:1883', dataDir: '/tmp/x', devices: [] };

test('the example config in deploy/ is valid and applies over the defaults, with command-line devices after its own', () => {
  const file = readAgentConfigFile('deploy/agent.example.json');
  const config = applyConfigFile(base, file, [{ id: 'door-cli', kind: 'qr', url: 'tcp://127.0.0.1:7001' }]);
  assert.deepEqual(config.devices.map((device) => device.id), ['door-204', 'door-205', 'door-cli']);
  assert.equal(config.uplink.mqttVersion, 5);
  assert.equal(config.disk.alarmRatio, 0.8);
});

test('a config file with an unknown field, a bad value or a device twice is refused, naming the problem', (t) => {
  const dir = tempDir(t, 'agent-config');
  const write = (name: string, body: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(body));
    return path;
  };
  assert.throws(() => readAgentConfigFile(write('unknown.json', { uplink: { windows: 4 } })), AgentConfigFileError);
  assert.throws(() => readAgentConfigFile(write('bad.json', { disk: { alarmRatio: 2 } })), /alarmRatio/);
  const twice = readAgentConfigFile(write('twice.json', { devices: [{ id: 'd', kind: 'qr', url: 'tcp://a:1' }] }));
  assert.throws(() => applyConfigFile(base, twice, [{ id: 'd', kind: 'qr', url: 'tcp://b:2' }]), /configured twice/);
});
