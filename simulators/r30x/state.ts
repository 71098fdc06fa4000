import { captureFeatures } from './fingers.js';

/** What a module keeps in flash: ReadSysPara's fields plus the password. */
export interface R30xModuleSettings {
  /** Packets for any other address are ignored. Default 0xFFFFFFFF. */
  address: number;
  /** 0 (the default) means VfyPwd is the only gate; any other value also makes commands before it fail with 0x21. */
  password: number;
  /** Library pages, ids 0 to capacity − 1. Default 1000 (R307). */
  capacity: number;
  /** Match strictness 1–5. Default 3. */
  securityLevel: number;
  /** Data packet size code 0–3 (32, 64, 128, 256 bytes). Default 2. */
  packetSizeCode: number;
  /** Baud multiplier N (baud = 9600·N). Default 6. */
  baudMultiplier: number;
  /** Bytes per template. Default 512 (R30x, ZFM-20). */
  templateSize: number;
}

export const DEFAULT_SETTINGS: Readonly<R30xModuleSettings> = Object.freeze({
  address: 0xffffffff,
  password: 0,
  capacity: 1000,
  securityLevel: 3,
  packetSizeCode: 2,
  baudMultiplier: 6,
  templateSize: 512,
});

const PACKET_SIZES = [32, 64, 128, 256];

/** The state behaviours read and change: flash (library, settings) and RAM (image, char buffers). */
export class R30xModuleState {
  readonly settings: R30xModuleSettings;
  /** Page id → template. */
  readonly library = new Map<number, Buffer>();
  /** CharBuffer 1 and 2 → features; absent when empty. */
  readonly charBuffers = new Map<number, Buffer>();
  /** The captured image, as the finger it shows and which capture of it. */
  image: { fingerId: number; capture: number } | null = null;
  /** The simulated finger on the sensor, if any. */
  fingerOnSensor: number | null = null;
  passwordVerified = false;
  private captures = 0;

  constructor(settings: Partial<R30xModuleSettings> = {}) {
    this.settings = { ...DEFAULT_SETTINGS, ...settings };
  }

  get packetSize(): number {
    return PACKET_SIZES[this.settings.packetSizeCode] ?? 128;
  }

  /** GenImg with a finger on the sensor: a fresh capture, a little different from the last. */
  captureImage(): boolean {
    if (this.fingerOnSensor === null) return false;
    this.image = { fingerId: this.fingerOnSensor, capture: ++this.captures };
    return true;
  }

  /** Img2Tz: the features an image yields. */
  featuresOf(image: { fingerId: number; capture: number }): Buffer {
    return captureFeatures(image.fingerId, image.capture, this.settings.templateSize);
  }

  /** A template of `fingerId` as enrolment would make it: the features of a fresh capture. */
  templateOf(fingerId: number): Buffer {
    return this.featuresOf({ fingerId, capture: ++this.captures });
  }
}
