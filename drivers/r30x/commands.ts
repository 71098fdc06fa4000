import type { DeviceCommands, DeviceTemplateRef } from '../core/commands.js';
import type { R30xDriver } from './driver.js';
import { R30xCommandError } from './errors.js';
import { Confirmation } from './frames/codes.js';

/** Each library slot holds one template, so every finger of the neutral interface is finger 0. */
const ONLY_FINGER = 0;

/** A slot named as a subject: the decimal slot number the driver's identified events carry. */
function slotOf(subject: string, finger = ONLY_FINGER): number {
  if (!/^\d+$/.test(subject)) throw new RangeError(`an R30x subject is a slot number, not ${JSON.stringify(subject)}`);
  if (finger !== ONLY_FINGER) throw new RangeError(`an R30x slot holds one template, finger ${ONLY_FINGER}, not finger ${finger}`);
  return Number(subject);
}

const slotOfRef = (ref: DeviceTemplateRef): number => slotOf(ref.subject, ref.finger);

/** The vendor-neutral commands over an R30x driver's own; a person is a library slot. */
export function r30xCommands(module: R30xDriver, model: string): DeviceCommands {
  return {
    async getInfo() {
      const parameters = await module.systemParameters();
      const templates = await module.templateCount();
      return {
        model,
        details: {
          capacity: parameters.capacity,
          templates,
          securityLevel: parameters.securityLevel,
          packetSize: parameters.packetSize,
          baudRate: parameters.baudRate,
          address: `0x${parameters.address.toString(16).toUpperCase().padStart(8, '0')}`,
          systemId: parameters.systemId,
        },
      };
    },

    async listTemplates() {
      return (await module.occupiedSlots()).map((slot) => ({ subject: String(slot), finger: ONLY_FINGER, details: {} }));
    },

    async downloadTemplate(ref) {
      try {
        return await module.exportTemplate(slotOfRef(ref));
      } catch (error) {
        // LoadChar of an empty slot is refused with "template read error".
        if (error instanceof R30xCommandError && error.instruction === 'LoadChar' && error.confirmation === Confirmation.templateReadError) return null;
        throw error;
      }
    },

    // async, so that a subject that is no slot rejects like any other failure instead of throwing.
    uploadTemplate: async (ref, bytes) => module.importTemplate(slotOfRef(ref), bytes),
    deleteTemplate: async (ref) => module.deleteTemplate(slotOfRef(ref)),
    enroll: async (subject, finger) => module.enroll(slotOf(subject, finger)),
  };
}
