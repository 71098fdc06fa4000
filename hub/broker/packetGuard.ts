import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

/**
 * aedes 1.2 has no maximum packet size: it buffers whatever a packet's fixed
 * header announces. This guard sits between the socket and aedes. It reads
 * only each packet's fixed header (type byte, then the Remaining Length
 * varint of MQTT 3.1.1 §2.2.3), skips over the body while passing the bytes
 * through, and destroys the connection as soon as a header announces more
 * than the limit, before any of that body is buffered.
 */
export type GuardViolation = 'oversize' | 'malformed_length';

type Phase = { kind: 'type' } | { kind: 'length'; value: number; multiplier: number; bytes: number } | { kind: 'body'; left: number };

export class PacketGuard {
  private phase: Phase = { kind: 'type' };

  constructor(private readonly maxPacketBytes: number) {}

  /** Walks the chunk; returns a violation, or null when every header in it is acceptable. */
  inspect(chunk: Buffer): { violation: GuardViolation; announced?: number } | null {
    let offset = 0;
    while (offset < chunk.length) {
      const phase = this.phase;
      if (phase.kind === 'type') {
        offset++;
        this.phase = { kind: 'length', value: 0, multiplier: 1, bytes: 0 };
      } else if (phase.kind === 'length') {
        const byte = chunk[offset++]!;
        phase.value += (byte & 0x7f) * phase.multiplier;
        phase.multiplier *= 128;
        phase.bytes++;
        if (byte & 0x80) {
          if (phase.bytes === 4) return { violation: 'malformed_length' };
        } else {
          if (phase.value > this.maxPacketBytes) return { violation: 'oversize', announced: phase.value };
          this.phase = phase.value === 0 ? { kind: 'type' } : { kind: 'body', left: phase.value };
        }
      } else {
        const step = Math.min(phase.left, chunk.length - offset);
        offset += step;
        phase.left -= step;
        if (phase.left === 0) this.phase = { kind: 'type' };
      }
    }
    return null;
  }
}

/** A duplex over `socket` whose readable side stops at the first violating packet header. */
export function guardConnection(
  socket: Socket,
  maxPacketBytes: number,
  onViolation: (violation: GuardViolation, announced: number | undefined) => void,
): Duplex {
  const guard = new PacketGuard(maxPacketBytes);
  const stream = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      if (socket.destroyed) callback();
      else socket.write(chunk, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(error, callback) {
      socket.destroy();
      callback(error);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    const problem = guard.inspect(chunk);
    if (problem) {
      onViolation(problem.violation, problem.announced);
      socket.destroy();
      return;
    }
    if (!stream.push(chunk)) socket.pause();
  });
  socket.on('end', () => stream.push(null));
  socket.on('close', () => stream.destroy());
  socket.on('error', () => stream.destroy());
  return stream;
}
