/**
 * The R30x driver against the independent module simulator, over real
 * transports: raw TCP (serial+tcp://, what ser2net gives) and a socat pty
 * pair opened with serialport (serial://).
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { MockR30xModule, type MockR30xModuleOptions } from '../../simulators/r30x/module.js';
import { createPtyPair } from '../../simulators/r30x/ptyPair.js';
import { waitFor } from '../../test/support/wait.js';
import type { ConnectionState, DeviceEvent } from '../core/driver.js';
import { TransportUrlError } from '../core/transportUrl.js';
import { createR30xDriver, type R30xDriverOptions } from './driver.js';
import { R30xCommandError, R30xEnrollError, R30xPasswordError } from './errors.js';

type Transport = 'tcp' | 'pty';

const Instruction = { GenImg: 0x01, Img2Tz: 0x02, Search: 0x04, UpChar: 0x08, DownChar: 0x09, VfyPwd: 0x13, TemplateNum: 0x1d, Handshake: 0x40 } as const;

/** A simulated module served over `transport`, and the URL a driver reaches it by. */
async function startModule(t: TestContext, transport: Transport, options: MockR30xModuleOptions = {}) {
  const module = new MockR30xModule(options);
  t.after(() => module.close());
  if (transport === 'tcp') {
    const { port } = await module.serveTcp();
    return { module, url: `serial+tcp://127.0.0.1:${port}` };
  }
  const pair = await createPtyPair();
  t.after(() => pair.close());
  await module.serveSerial(pair.modulePath);
  return { module, url: `serial://${pair.hostPath}` };
}

/**
 * Reopens after 10–50 ms: quick, yet never a busy loop when a link cannot
 * be opened at all.
 */
const QUICK_REOPEN: R30xDriverOptions = { backoff: { baseMs: 20, capMs: 100 }, random: () => 0.5 };

/** An opened driver with fast polling and reopening, recording its states and events. */
async function openDriver(t: TestContext, url: string, query = '', options: R30xDriverOptions = {}) {
  const driver = createR30xDriver(`${url}?poll=50${query ? `&${query}` : ''}`, { ...QUICK_REOPEN, ...options });
  const states: ConnectionState[] = [];
  const events: DeviceEvent[] = [];
  driver.on('state', (state) => states.push(state));
  t.after(() => driver.close());
  await driver.open(async (event) => {
    events.push(event);
  });
  return { driver, states, events };
}

/** Resolves once `count` more commands with this instruction have reached the module. */
function commandsArrive(module: MockR30xModule, instruction: number, count = 1): Promise<unknown> {
  const target = module.count(instruction) + count;
  return waitFor(() => module.count(instruction) >= target, { message: `${count} more command(s) 0x${instruction.toString(16)}` });
}

/**
 * The person at the sensor during an enrolment: place, lift once the first
 * capture is in (the duplicate check's Search follows it), place again.
 */
async function presentFingerTwice(module: MockR30xModule, first: number, second = first): Promise<void> {
  module.placeFinger(first);
  await commandsArrive(module, Instruction.Search);
  module.liftFinger();
  // One GenImg sees the lift; the next one is already waiting for the second touch.
  await commandsArrive(module, Instruction.GenImg, 2);
  module.placeFinger(second);
}

for (const transport of ['tcp', 'pty'] as const) {
  describe(`R30x driver over ${transport === 'tcp' ? 'raw TCP (serial+tcp://)' : 'a socat pty pair (serial://)'}`, () => {
    test('opens by verifying the password and reading the system parameters, then reports itself ready', async (t) => {
      const { module, url } = await startModule(t, transport);
      const { driver, states } = await openDriver(t, url);
      assert.equal(driver.state, 'ready');
      assert.deepEqual(states.slice(0, 2), ['opening', 'ready']);
      assert.deepEqual(
        module.received.slice(0, 3).map((command) => command.instruction),
        [Instruction.VfyPwd, 0x0f, Instruction.TemplateNum],
      );
      assert.equal(module.count(Instruction.Handshake), 0, 'a generic module is not sent HandShake');
      assert.deepEqual(
        { kind: driver.kind, identify: driver.capabilities.identify, templates: driver.capabilities.templates, enroll: driver.capabilities.enroll },
        { kind: 'r30x', identify: true, templates: true, enroll: true },
      );
    });

    test('reports an identified finger once per touch with its slot and score, and nothing for an unknown finger', async (t) => {
      const { module, url } = await startModule(t, transport);
      module.enroll(3, 42);
      const { events } = await openDriver(t, url);
      module.placeFinger(42);
      await waitFor(() => events.length === 1, { message: 'the first identification' });
      const { score, ...identified } = events[0] as Extract<DeviceEvent, { type: 'identified' }>;
      assert.deepEqual(identified, { type: 'identified', subject: '3', method: 'fingerprint', deviceTime: null });
      assert.ok(score !== undefined && score > 0, `a match score, got ${score}`);
      await commandsArrive(module, Instruction.GenImg, 3);
      assert.equal(events.length, 1, 'a finger left on the sensor is one touch');
      module.liftFinger();
      await commandsArrive(module, Instruction.GenImg);
      module.placeFinger(99);
      await commandsArrive(module, Instruction.Search);
      module.liftFinger();
      await commandsArrive(module, Instruction.GenImg);
      module.placeFinger(42);
      await waitFor(() => events.length === 2, { message: 'the second touch of finger 42' });
      assert.deepEqual(
        events.map((event) => event.type === 'identified' && event.subject),
        ['3', '3'],
      );
    });

    test('enrols a finger with two captures and finds it afterwards', async (t) => {
      const { module, url } = await startModule(t, transport);
      const { driver, events } = await openDriver(t, url);
      const enrolled = driver.enroll(5);
      await presentFingerTwice(module, 7);
      await enrolled;
      assert.deepEqual([...module.state.library.keys()], [5]);
      assert.deepEqual(await driver.occupiedSlots(), [5]);
      module.liftFinger();
      await commandsArrive(module, Instruction.GenImg);
      module.placeFinger(7);
      await waitFor(() => events.length === 1, { message: 'the enrolled finger identified' });
      assert.ok(events[0]?.type === 'identified' && events[0].subject === '5');
    });

    test('moves template bytes out of one slot and into another unchanged', async (t) => {
      const { module, url } = await startModule(t, transport);
      module.enroll(1, 11);
      const { driver } = await openDriver(t, url);
      const template = await driver.exportTemplate(1);
      assert.deepEqual(template, module.state.library.get(1));
      await driver.importTemplate(700, template);
      assert.deepEqual(module.state.library.get(700), template);
      assert.deepEqual(await driver.exportTemplate(700), template);
    });

    test('counts, lists, deletes and empties the library and reads the system parameters', async (t) => {
      const { module, url } = await startModule(t, transport, { capacity: 300, packetSizeCode: 3 });
      for (const slot of [0, 2, 255, 299]) module.enroll(slot, 100 + slot);
      const { driver } = await openDriver(t, url);
      assert.equal(await driver.templateCount(), 4);
      assert.deepEqual(await driver.occupiedSlots(), [0, 2, 255, 299]);
      const parameters = await driver.systemParameters();
      assert.deepEqual(
        { capacity: parameters.capacity, packetSize: parameters.packetSize, baudRate: parameters.baudRate, passwordVerified: parameters.status.passwordVerified },
        { capacity: 300, packetSize: 256, baudRate: 57_600, passwordVerified: true },
      );
      await driver.deleteTemplate(2);
      await driver.deleteTemplate(255, 45);
      assert.deepEqual(await driver.occupiedSlots(), [0]);
      await driver.emptyLibrary();
      assert.equal(await driver.templateCount(), 0);
      await assert.rejects(driver.exportTemplate(0), (error) => error instanceof R30xCommandError && error.confirmation === 0x0c);
    });
  });
}

describe('R30x driver enrolment failures', () => {
  test('refuses a second capture of a different finger', async (t) => {
    const { module, url } = await startModule(t, 'tcp');
    const { driver } = await openDriver(t, url);
    const enrolled = driver.enroll(5);
    await presentFingerTwice(module, 7, 8);
    await assert.rejects(enrolled, (error) => error instanceof R30xEnrollError && error.reason === 'mismatch');
    assert.equal(module.state.library.size, 0);
  });

  test('refuses a finger that is already enrolled, naming its slot', async (t) => {
    const { module, url } = await startModule(t, 'tcp');
    module.enroll(2, 7);
    const { driver } = await openDriver(t, url);
    module.placeFinger(7);
    await assert.rejects(driver.enroll(5), (error) => error instanceof R30xEnrollError && error.reason === 'duplicate' && error.existingSlot === 2);
  });

  test('gives up when no finger comes within the timeout, and rejects a slot beyond the capacity', async (t) => {
    const { url } = await startModule(t, 'tcp', { capacity: 200 });
    const { driver } = await openDriver(t, url);
    await assert.rejects(driver.enroll(5, { timeoutMs: 1_000 }), (error) => error instanceof R30xEnrollError && error.reason === 'timeout');
    await assert.rejects(driver.enroll(200), RangeError);
  });
});

describe('R30x driver faults', () => {
  test('a reply with a corrupt checksum is counted and the command resent', async (t) => {
    const { module, url } = await startModule(t, 'tcp');
    module.enroll(0, 1);
    const { driver } = await openDriver(t, url);
    module.faults.corruptChecksum({ instruction: Instruction.TemplateNum });
    assert.equal(await driver.templateCount(), 1);
    const stats = driver.stats();
    assert.ok(stats.checksumErrors >= 1 && stats.retries >= 1, JSON.stringify(stats));
  });

  test('a corrupt data packet in an upload restarts the upload and still yields the exact template', async (t) => {
    const { module, url } = await startModule(t, 'tcp');
    module.enroll(0, 1);
    const { driver } = await openDriver(t, url);
    module.faults.corruptChecksum({ instruction: Instruction.UpChar, dataPacket: 2 });
    assert.deepEqual(await driver.exportTemplate(0), module.state.library.get(0));
    assert.ok(driver.stats().checksumErrors >= 1);
  });

  test('a reply that never comes is counted as a timeout and the command resent', async (t) => {
    const { module, url } = await startModule(t, 'tcp');
    const { driver } = await openDriver(t, url, 'timeout=200');
    module.faults.dropReply({ instruction: Instruction.TemplateNum });
    assert.equal(await driver.templateCount(), 0);
    const stats = driver.stats();
    assert.ok(stats.timeouts >= 1 && stats.retries >= 1, JSON.stringify(stats));
  });

  test('a reply later than the timeout answers the resend, and its duplicate is not taken for the next reply', async (t) => {
    const { module, url } = await startModule(t, 'tcp', { capacity: 321 });
    for (const slot of [1, 2, 3]) module.enroll(slot, slot);
    const { driver } = await openDriver(t, url, 'timeout=200');
    module.faults.delayReply(300, { instruction: Instruction.TemplateNum });
    assert.equal(await driver.templateCount(), 3);
    assert.equal((await driver.systemParameters()).capacity, 321);
    assert.deepEqual(await driver.occupiedSlots(), [1, 2, 3]);
    assert.ok(driver.stats().timeouts >= 1);
  });

  test('a module that stops answering has its link reopened, and the operation runs again', async (t) => {
    const { module, url } = await startModule(t, 'tcp');
    const { driver, states } = await openDriver(t, url, 'timeout=150&retries=2');
    module.faults.dropReply({ instruction: Instruction.TemplateNum, times: 3 });
    assert.equal(await driver.templateCount(), 0);
    assert.ok(driver.stats().reconnects >= 1);
    assert.ok(states.includes('reopening'), states.join(' → '));
    assert.equal(driver.state, 'ready');
  });

  test('a link lost in the middle of a template upload is reopened and the export runs again', async (t) => {
    const { module, url } = await startModule(t, 'tcp');
    module.enroll(4, 44);
    const { driver } = await openDriver(t, url);
    module.faults.disconnectMidTransfer(2, { instruction: Instruction.UpChar });
    assert.deepEqual(await driver.exportTemplate(4), module.state.library.get(4));
    assert.ok(driver.stats().reconnects >= 1);
  });

  test('a link lost in the middle of a template download is reopened and the import runs again', async (t) => {
    const { module, url } = await startModule(t, 'tcp');
    module.enroll(4, 44);
    const template = module.state.library.get(4)!;
    const { driver } = await openDriver(t, url);
    module.faults.disconnectMidTransfer(2, { instruction: Instruction.DownChar });
    await driver.importTemplate(9, template);
    assert.deepEqual(module.state.library.get(9), template);
    assert.ok(driver.stats().reconnects >= 1);
  });

  test('packets written in pieces of three bytes are reassembled', async (t) => {
    const { module, url } = await startModule(t, 'pty');
    module.enroll(8, 80);
    module.faults.splitFrames(3);
    const { driver } = await openDriver(t, url);
    assert.deepEqual(await driver.exportTemplate(8), module.state.library.get(8));
  });

  test('a wrong password fails the open with a clear error and leaves the driver failed', async (t) => {
    const { module, url } = await startModule(t, 'tcp', { password: 0x1234abcd });
    const driver = createR30xDriver(`${url}?password=0x1234abce`, QUICK_REOPEN);
    t.after(() => driver.close());
    await assert.rejects(driver.open(async () => {}), (error) => error instanceof R30xPasswordError && /password=/.test(error.message));
    assert.equal(driver.state, 'failed');
    await assert.rejects(driver.templateCount(), R30xPasswordError);
    assert.equal(module.count(Instruction.VfyPwd), 1, 'a refused password is not retried');
  });

  test('the wrong-password switch makes even the right password fail', async (t) => {
    const { module, url } = await startModule(t, 'tcp');
    module.faults.rejectPassword();
    const driver = createR30xDriver(url, QUICK_REOPEN);
    t.after(() => driver.close());
    await assert.rejects(driver.open(async () => {}), R30xPasswordError);
  });

  test('the right password, given in hex, opens a module that has one', async (t) => {
    const { module, url } = await startModule(t, 'tcp', { password: 0x1234abcd, address: 0xabcd });
    module.enroll(0, 1);
    const { driver } = await openDriver(t, url, 'password=0x1234ABCD&address=43981');
    assert.equal(await driver.templateCount(), 1);
  });

  test('a module that restarted and wants its password again is greeted anew', async (t) => {
    const { module, url } = await startModule(t, 'tcp', { password: 77 });
    const { driver } = await openDriver(t, url, 'password=77');
    module.state.passwordVerified = false;
    assert.equal(await driver.templateCount(), 0);
    assert.ok(module.count(Instruction.VfyPwd) >= 2);
  });
});

describe('R30x model quirks', () => {
  test('an R503 is greeted with HandShake before VfyPwd', async (t) => {
    const { module, url } = await startModule(t, 'tcp');
    await openDriver(t, url, 'model=r503');
    assert.deepEqual(
      module.received.slice(0, 2).map((command) => command.instruction),
      [Instruction.Handshake, Instruction.VfyPwd],
    );
  });

  test("the 0x55 an R503 sends when it powers up is skipped as noise", async (t) => {
    const { url } = await startModule(t, 'tcp', { announceReady: true });
    const { driver } = await openDriver(t, url, 'model=r503');
    assert.equal(driver.state, 'ready');
    assert.equal(driver.stats().discardedBytes, 1);
  });
});

describe('R30x driver lifecycle and options', () => {
  test('delivers no events after close and reports closed', async (t) => {
    const { module, url } = await startModule(t, 'tcp');
    module.enroll(0, 5);
    const { driver, events } = await openDriver(t, url);
    await driver.close();
    assert.equal(driver.state, 'closed');
    await waitFor(() => module.hostLinks === 0, { message: 'the module to see the link closed' });
    module.placeFinger(5);
    assert.equal(events.length, 0, 'with its link closed, the driver cannot poll the finger');
  });

  test('refuses unknown options and values out of range before opening anything', () => {
    const cases = [
      'serial+tcp://127.0.0.1:4001?pasword=1',
      'serial+tcp://127.0.0.1:4001?password=0x100000000',
      'serial:///dev/ttyUSB0?baud=50000',
      'serial+tcp://127.0.0.1:4001?baud=57600',
      'serial+tcp://127.0.0.1:4001?timeout=10',
      'serial+tcp://127.0.0.1:4001?model=r999',
    ];
    for (const url of cases) assert.throws(() => createR30xDriver(url), TransportUrlError, url);
    assert.throws(() => createR30xDriver('serial+tcp://127.0.0.1:4001', { linkWaitMs: 0 }), RangeError);
  });

  test('reopens after the module drops the link and polls again', async (t) => {
    const { module, url } = await startModule(t, 'tcp');
    module.enroll(6, 60);
    const { driver, events } = await openDriver(t, url);
    module.disconnectAll();
    await waitFor(() => driver.stats().reconnects === 1 && driver.state === 'ready', { message: 'the driver back and greeted' });
    module.placeFinger(60);
    await waitFor(() => events.length === 1, { message: 'an identification after the reopen' });
  });
});

describe('R30x commands in vendor-neutral terms: a subject is a library slot', () => {
  test('describe the module and list, move and delete templates by slot', async (t) => {
    const { module, url } = await startModule(t, 'tcp', { capacity: 300 });
    for (const slot of [0, 2]) module.enroll(slot, 100 + slot);
    const { driver } = await openDriver(t, url);
    const { commands } = driver;
    const info = await commands.getInfo();
    assert.deepEqual({ model: info.model, capacity: info.details.capacity, templates: info.details.templates }, { model: 'generic', capacity: 300, templates: 2 });
    assert.deepEqual(await commands.listTemplates!(), [
      { subject: '0', finger: 0, details: {} },
      { subject: '2', finger: 0, details: {} },
    ]);
    const template = await commands.downloadTemplate!({ subject: '2', finger: 0 });
    assert.deepEqual(template, module.state.library.get(2));
    await commands.uploadTemplate!({ subject: '7', finger: 0 }, template!);
    assert.deepEqual(module.state.library.get(7), template);
    await commands.deleteTemplate!({ subject: '2', finger: 0 });
    assert.equal(await commands.downloadTemplate!({ subject: '2', finger: 0 }), null);
    await assert.rejects(commands.downloadTemplate!({ subject: 'Asha', finger: 0 }), RangeError);
    await assert.rejects(commands.deleteTemplate!({ subject: '0', finger: 1 }), RangeError);
  });

  test('enrol a finger at the slot named by the subject', async (t) => {
    const { module, url } = await startModule(t, 'tcp');
    const { driver } = await openDriver(t, url);
    const enrolled = driver.commands.enroll!('5');
    await presentFingerTwice(module, 7);
    await enrolled;
    assert.deepEqual([...module.state.library.keys()], [5]);
  });
});
