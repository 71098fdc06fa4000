import { TransportUrlError, type TransportUrl } from '../core/transportUrl.js';
import { rejectUnknownOptions } from '../core/urlOptions.js';

/**
 * Options of the HID scanner driver, given as URL query options, e.g.
 * `hid://0c2e:0b61/18223B0F21?mode=pos` (ids in hex; the serial number picks
 * one of several identical scanners):
 *
 *   mode=M        keyboard or pos; default keyboard.
 *                 keyboard: the scanner types each scan as a USB keyboard
 *                 (the factory setting of most readers). The driver opens
 *                 the interface with usage page 0x01, usage 0x06 and reads
 *                 boot keyboard reports in the US layout, so the scanner
 *                 must be set to a US keyboard layout. Linux only: Windows
 *                 and macOS keep keyboards to themselves, and on Linux the
 *                 keystrokes also reach the console (device-protocols.md §5.1).
 *                 pos: the scanner is in HID POS mode (usage page 0x8C,
 *                 usage 0x02; §5.2). Works on every OS; vendor offsets and
 *                 the Honeywell enable report come from quirks.ts.
 *   terminator=T  mode=keyboard only: enter or tab; default enter. The key
 *                 the scanner sends after each scan. Enter and keypad Enter
 *                 end a scan with either setting; tab makes Tab end one too.
 *
 * There is deliberately no debounce option: the agent debounces repeated
 * scans durably, across its own restarts, so the driver reports every scan.
 */
export interface HidScannerOptions {
  mode: HidScannerMode;
  /** Tab ends a scan as well as Enter. */
  tabEndsScan: boolean;
}

export type HidScannerMode = 'keyboard' | 'pos';

const HID_OPTION_NAMES = ['mode', 'terminator'] as const;
const MODES: readonly HidScannerMode[] = ['keyboard', 'pos'];
const TERMINATORS = ['enter', 'tab'] as const;

export function parseHidScannerOptions(url: TransportUrl): HidScannerOptions {
  const { options } = url;
  rejectUnknownOptions(options, HID_OPTION_NAMES);
  const mode = choiceOption(options, 'mode', MODES, 'keyboard');
  const terminator = choiceOption(options, 'terminator', TERMINATORS, 'enter');
  if (mode === 'pos' && options.terminator !== undefined) {
    throw new TransportUrlError('option terminator applies to mode=keyboard only; a HID POS report marks the end of a scan itself');
  }
  return { mode, tabEndsScan: terminator === 'tab' };
}

function choiceOption<T extends string>(options: Record<string, string>, name: string, choices: readonly T[], fallback: T): T {
  const text = options[name];
  if (text === undefined) return fallback;
  if (!(choices as readonly string[]).includes(text)) {
    throw new TransportUrlError(`option ${name}=${JSON.stringify(text)}: expected ${choices.join(' or ')}`);
  }
  return text as T;
}
