import type { Logger } from 'pino';
import type { DeviceDriver } from '../../drivers/core/driver.js';
import type { DeviceTemplateRef } from '../../drivers/core/commands.js';
import { CAPTURE_FORMATS, encodeEnvelope, recipientWrapper, sealEnvelope, templateContext, type CommandParams, type CommandResult, type TemplateDelivery } from '../../protocol/index.js';
import { CommandError } from '../commands.js';
import { VaultError, type DeviceTemplateStatus, type TemplateVault, type VaultEntry } from './vault.js';

/** A device the agent runs, as the vault sees it. */
export interface VaultDevice {
  id: string;
  driver: DeviceDriver;
}

/**
 * The device family a template format is for: the part before the first `-`
 * (`zk-bio10` → terminals of kind `zk`, `r30x-char` → modules of kind
 * `r30x`). Other formats (e.g. `iso19794-2`) stay in the vault only.
 */
export function formatFamily(format: string): string {
  return format.split('-')[0]!;
}

/** Fingerprint modules keep one template per library slot; a slot is one person's finger. */
const MODULE_FINGER = 0;

/**
 * Puts templates from the vault onto the devices that keep templates, and
 * takes them off again, recording per device what is where. Template bytes
 * exist in the clear only in memory, between opening the envelope and the
 * device write, and are zeroed after.
 */
export function createTemplateSync(vault: TemplateVault, devices: () => VaultDevice[], logger: Logger) {
  const log = logger.child({ ns: 'agent:vault' });

  const carriers = (entry: VaultEntry) =>
    devices().filter(({ driver }) => driver.capabilities.templates && driver.commands.uploadTemplate && driver.kind === formatFamily(entry.format));

  function freeSlot(deviceId: string): number {
    const used = vault.usedSlots(deviceId);
    let slot = 0;
    while (used.has(slot)) slot++;
    return slot;
  }

  /** How the device names the template: the terminal's user and finger, or the module's slot. */
  function refOn(device: VaultDevice, entry: VaultEntry, allocate: boolean): { ref: DeviceTemplateRef; slot: number | null } | null {
    if (device.driver.capabilities.users) return entry.deviceUserId ? { ref: { subject: entry.deviceUserId, finger: entry.finger }, slot: null } : null;
    const slot = vault.slotOf(device.id, entry.templateId) ?? (allocate ? freeSlot(device.id) : null);
    return slot === null ? null : { ref: { subject: String(slot), finger: MODULE_FINGER }, slot };
  }

  async function pushTo(device: VaultDevice, entry: VaultEntry): Promise<DeviceTemplateStatus> {
    const target = refOn(device, entry, true);
    if (!target) return failed(device.id, entry.templateId, 'the student has no device user id for this terminal');
    let bytes: Buffer | undefined;
    try {
      bytes = vault.open(entry.templateId);
      const commands = device.driver.commands;
      if (device.driver.capabilities.users) await commands.setUser?.({ userId: target.ref.subject, name: '', details: {} });
      await commands.uploadTemplate!(target.ref, bytes);
      vault.setDeviceState(device.id, entry.templateId, 'present', undefined, target.slot);
      return { templateId: entry.templateId, deviceId: device.id, state: 'present' };
    } catch (error) {
      return failed(device.id, entry.templateId, (error as Error).message, target.slot);
    } finally {
      bytes?.fill(0);
    }
  }

  function failed(deviceId: string, templateId: string, detail: string, slot: number | null = null): DeviceTemplateStatus {
    vault.setDeviceState(deviceId, templateId, 'failed', detail, slot);
    log.warn({ device: deviceId, templateId, reason: detail }, 'template not written to the device');
    return { templateId, deviceId, state: 'failed', detail };
  }

  async function removeFrom(device: VaultDevice, entry: VaultEntry | undefined, templateId: string): Promise<DeviceTemplateStatus> {
    const target = entry ? refOn(device, entry, false) : null;
    const commands = device.driver.commands;
    if (target && commands.deleteTemplate) {
      try {
        await commands.deleteTemplate(target.ref);
      } catch (error) {
        // A delete of something absent may fail; the device's own list says whether it is gone.
        const present = await commands
          .listTemplates?.()
          .then((listed) => listed.some((item) => item.subject === target.ref.subject && item.finger === target.ref.finger))
          .catch(() => true);
        if (present !== false) return failedRemoval(device.id, templateId, (error as Error).message);
      }
    }
    vault.setDeviceState(device.id, templateId, 'removed');
    return { templateId, deviceId: device.id, state: 'removed' };
  }

  function failedRemoval(deviceId: string, templateId: string, detail: string): DeviceTemplateStatus {
    vault.setDeviceState(deviceId, templateId, 'failed', `removal: ${detail}`);
    log.warn({ device: deviceId, templateId, reason: detail }, 'template not yet removed from the device; the hub will ask again');
    return { templateId, deviceId, state: 'failed', detail: `removal: ${detail}` };
  }

  async function put(templates: TemplateDelivery[]): Promise<CommandResult<'templates.put'>> {
    const stored: string[] = [];
    const refused: { templateId: string; reason: string }[] = [];
    const outcomes: DeviceTemplateStatus[] = [];
    for (const delivery of templates) {
      let entry: VaultEntry;
      try {
        entry = vault.put(delivery);
      } catch (error) {
        if (!(error instanceof VaultError)) throw error;
        log.error({ templateId: delivery.templateId, code: error.code, reason: error.message }, 'refused a template');
        refused.push({ templateId: delivery.templateId, reason: `${error.code}: ${error.message}` });
        continue;
      }
      stored.push(entry.templateId);
      for (const device of carriers(entry)) outcomes.push(await pushTo(device, entry));
    }
    return { stored, refused, devices: outcomes };
  }

  async function remove(templateIds: string[]): Promise<CommandResult<'templates.remove'>> {
    const removed: string[] = [];
    const outcomes: DeviceTemplateStatus[] = [];
    for (const templateId of templateIds) {
      const entry = vault.entry(templateId) ?? vault.removedEntry(templateId);
      // The envelope goes first: whatever a device does, the vault no longer holds the template.
      vault.remove(templateId);
      const holders = new Set(vault.devicesHolding(templateId));
      for (const device of devices().filter((candidate) => holders.has(candidate.id))) outcomes.push(await removeFrom(device, entry, templateId));
      if (vault.devicesHolding(templateId).length === 0) {
        vault.forgetRemoved(templateId);
        removed.push(templateId);
      }
    }
    return { removed, devices: outcomes };
  }

  return {
    put,
    remove,
    status: (): CommandResult<'templates.status'> => ({
      templates: vault.entries().map(({ templateId, studentId, finger }) => ({ templateId, studentId, finger })),
      devices: vault.deviceStates(),
    }),
  };
}

export type TemplateSync = ReturnType<typeof createTemplateSync>;

/**
 * Reads a template from a device and seals it for the hub's intake key
 * under its final context, so it exists in the clear only in this call.
 */
export async function captureTemplate(devices: VaultDevice[], params: CommandParams<'templates.capture'>): Promise<CommandResult<'templates.capture'>> {
  const device = devices.find((candidate) => candidate.id === params.deviceId);
  if (!device) throw new CommandError('unknown_device', `this agent runs no device ${params.deviceId}`);
  const format = CAPTURE_FORMATS[device.driver.kind];
  const download = device.driver.commands.downloadTemplate;
  if (!format || !download) throw new CommandError('no_templates', `device ${params.deviceId} (${device.driver.kind}) keeps no templates the hub can take`);
  const ref = { subject: params.subject, finger: device.driver.capabilities.users ? params.finger : MODULE_FINGER };
  const stored = await download(ref);
  if (!stored) throw new CommandError('no_template', `device ${params.deviceId} holds no template for ${params.subject}, finger ${ref.finger}`);
  const bytes = Buffer.from(stored);
  try {
    const context = templateContext({ templateId: params.templateId, studentId: params.studentId, finger: params.finger, format });
    return { format, envelope: encodeEnvelope(sealEnvelope(bytes, context, recipientWrapper(params.intakePublicKey, context))).toString('base64') };
  } finally {
    bytes.fill(0);
    if (Buffer.isBuffer(stored)) stored.fill(0);
  }
}
