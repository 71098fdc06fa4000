import { EventEmitter } from 'node:events';
import { stat } from 'node:fs/promises';
import { SerialPort } from 'serialport';
import type { ByteLink, ByteLinkEvents, ByteLinkFactory } from './link.js';

export interface SerialLinkOptions {
  /** Device path, e.g. `/dev/serial/by-id/usb-…` or `/dev/ttyACM0`. */
  path: string;
  /** Bits per second (50–4000000, default 9600). USB CDC-ACM readers ignore it; ptys too. */
  baudRate?: number;
  /**
   * How often, in ms, to check that the device path still exists (0 = never;
   * 100–60000, default 2000). serialport does not always emit `close` when a
   * USB device is unplugged, and the error may only surface on the next write
   * (serialport/node-serialport#2043, #2351, #1465; attendance-domain.md §14).
   * A reader that only sends gets no writes from us outside ACK mode, so the
   * vanished device node (or by-id link) is the one signal left.
   */
  presenceCheckMs?: number;
}

export const SERIAL_LINK_DEFAULTS = { baudRate: 9600, presenceCheckMs: 2_000 } as const;
export const BAUD_RATE_RANGE = { min: 50, max: 4_000_000 } as const;

/**
 * Opens a new SerialPort object per call. A closed port object is never
 * reopened: old serialport versions dropped every handler on close
 * (serialport/node-serialport#648, #746).
 */
export function serialLinkFactory(options: SerialLinkOptions): ByteLinkFactory {
  return () => openSerialLink(options);
}

async function openSerialLink(options: SerialLinkOptions): Promise<ByteLink> {
  const { path, baudRate = SERIAL_LINK_DEFAULTS.baudRate, presenceCheckMs = SERIAL_LINK_DEFAULTS.presenceCheckMs } = options;
  const port = new SerialPort({ path, baudRate, autoOpen: false });
  await new Promise<void>((resolve, reject) => {
    port.open((error) => (error ? reject(new Error(`serial://${path}: ${error.message}`, { cause: error })) : resolve()));
  });
  return new SerialLink(port, `serial://${path}`, presenceCheckMs);
}

class SerialLink extends EventEmitter<ByteLinkEvents> implements ByteLink {
  private failure: Error | undefined;
  private closing = false;
  private readonly closed: Promise<void>;
  private readonly presenceTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly port: SerialPort,
    readonly description: string,
    presenceCheckMs: number,
  ) {
    super();
    port.on('data', (bytes: Buffer) => this.emit('data', bytes));
    port.on('error', (error: Error) => {
      this.failure ??= error;
    });
    this.closed = new Promise((resolve) => {
      port.once('close', (error?: Error | null) => {
        clearInterval(this.presenceTimer);
        this.emit('close', this.closing ? undefined : (error ?? this.failure ?? new Error('serial port closed')));
        resolve();
      });
    });
    if (presenceCheckMs > 0) {
      this.presenceTimer = setInterval(() => void this.checkPresence(), presenceCheckMs);
      this.presenceTimer.unref();
    }
  }

  private async checkPresence(): Promise<void> {
    try {
      await stat(this.port.path);
    } catch {
      if (!this.port.isOpen || this.closing) return;
      this.failure ??= new Error(`${this.port.path} disappeared (device unplugged?)`);
      this.port.close();
    }
  }

  write(bytes: Uint8Array): Promise<void> {
    if (!this.port.isOpen) return Promise.reject(new Error(`${this.description}: link is closed`));
    return new Promise((resolve, reject) => {
      this.port.write(Buffer.from(bytes), (error) => (error ? reject(error) : resolve()));
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.port.isOpen) this.port.close();
    await this.closed;
  }
}
