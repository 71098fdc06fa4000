import { linkInfoCommands } from '../core/commands.js';
import { NO_CAPABILITIES, type DeviceDriver } from '../core/driver.js';
import { createLinkFactory, type LinkFactoryOptions } from '../core/linkFactory.js';
import { createScanReaderDriver, type ScanReaderDriverOptions } from '../core/scanReader.js';
import { parseTransportUrl } from '../core/transportUrl.js';
import { ACK, NAK, createLineDecoder } from './codec.js';
import { parseQrLineOptions } from './options.js';

/** Settings that are not part of the device URL; every field is optional. */
export interface QrLineDriverOptions extends ScanReaderDriverOptions {
  link?: LinkFactoryOptions;
}

const ACK_BYTES = Uint8Array.of(ACK);
const NAK_BYTES = Uint8Array.of(NAK);

/**
 * A QR or barcode reader that sends each scan as a line of text: USB
 * CDC-ACM and RS-232 readers (serial://), and readers behind a serial device
 * server (serial+tcp://, tcp://). URL options are described in options.ts.
 * In ACK mode each scan is answered ACK once the sink has stored it, NAK when
 * the sink refuses it. Throws at once on a URL or option it cannot use.
 */
export function createQrLineDriver(url: string, options: QrLineDriverOptions = {}): DeviceDriver {
  const transport = parseTransportUrl(url);
  const { ackMode, maxLineBytes, prefix, aim } = parseQrLineOptions(transport);
  const factory = createLinkFactory(transport, options.link);
  return createScanReaderDriver(
    {
      kind: 'qr-line',
      capabilities: Object.freeze({ ...NO_CAPABILITIES, scan: true, acknowledgedDelivery: ackMode }),
      commands: linkInfoCommands('qr-line', transport),
      logNamespace: 'driver:qr',
      reading: () => ({
        factory,
        createDecoder: () => createLineDecoder({ maxLineBytes, prefix, aim }),
        answer: ackMode ? (stored) => (stored ? ACK_BYTES : NAK_BYTES) : undefined,
      }),
    },
    options,
  );
}
