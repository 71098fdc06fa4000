import { zkCodeName } from './frames/codes.js';

/** No reply (or no complete reply) within the reply timeout; retryable. */
export class ZkTimeoutError extends Error {
  override readonly name = 'ZkTimeoutError';
}

/** A multi-packet reply ended with fewer or more bytes than it announced; retryable. */
export class ZkTransferError extends Error {
  override readonly name = 'ZkTransferError';
}

/** The link closed while a request was outstanding or before it was sent. */
export class ZkLinkClosedError extends Error {
  override readonly name = 'ZkLinkClosedError';
}

/** The device refused a request: ACK_ERROR, ACK_UNKNOWN, or a reply the request cannot have. */
export class ZkDeviceError extends Error {
  override readonly name = 'ZkDeviceError';

  constructor(
    readonly command: number,
    readonly reply: number,
  ) {
    super(`${zkCodeName(command)} was answered with ${zkCodeName(reply)}`);
  }
}

/** The device wants a comm key that was not given, or rejected the one given. Retrying cannot help. */
export class ZkAuthError extends Error {
  override readonly name = 'ZkAuthError';
}

/** A command was called on a driver that is closed or failed. */
export class ZkNotOpenError extends Error {
  override readonly name = 'ZkNotOpenError';
}

export function isRetryable(error: unknown): boolean {
  return error instanceof ZkTimeoutError || error instanceof ZkTransferError;
}
