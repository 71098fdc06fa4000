import type { EventEmitter } from 'node:events';

export interface ByteLinkEvents {
  data: [bytes: Buffer];
  /** The link ended; `error` is set when it ended by failure rather than by close(). */
  close: [error?: Error];
}

/**
 * A byte pipe to one device: a TCP socket, a serial port, a HID device. One
 * link is used once; reopening means calling its factory again, because some
 * transports (old serialport) cannot be reused after close.
 */
export interface ByteLink extends EventEmitter<ByteLinkEvents> {
  /** For logs, e.g. `tcp://10.0.0.5:4370`. */
  readonly description: string;
  /** Resolves when the bytes are handed to the OS. */
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export type ByteLinkFactory = () => Promise<ByteLink>;
