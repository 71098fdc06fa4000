/**
 * Command, reply and event-flag codes of the ZK standalone protocol
 * (device-protocols.md §2.4). Decimal, as the reference lists them.
 */
export const ZkCommand = {
  DB_RRQ: 7,
  USER_WRQ: 8,
  USERTEMP_RRQ: 9,
  OPTIONS_RRQ: 11,
  OPTIONS_WRQ: 12,
  ATTLOG_RRQ: 13,
  CLEAR_DATA: 14,
  CLEAR_ATTLOG: 15,
  DELETE_USER: 18,
  DELETE_USERTEMP: 19,
  UNLOCK: 31,
  OPLOG_RRQ: 34,
  GET_FREE_SIZES: 50,
  TMP_WRITE: 87,
  GET_USERTEMP: 88,
  SAVE_USERTEMPS: 110,
  CHECKSUM_BUFFER: 119,
  DEL_USER_TEMP: 134,
  GET_TIME: 201,
  SET_TIME: 202,
  REG_EVENT: 500,
  CONNECT: 1000,
  EXIT: 1001,
  ENABLE_DEVICE: 1002,
  DISABLE_DEVICE: 1003,
  RESTART: 1004,
  POWEROFF: 1005,
  REFRESH_DATA: 1013,
  REFRESH_OPTION: 1014,
  TEST_VOICE: 1017,
  GET_VERSION: 1100,
  AUTH: 1102,
  PREPARE_DATA: 1500,
  DATA: 1501,
  FREE_DATA: 1502,
  PREPARE_BUFFER: 1503,
  READ_BUFFER: 1504,
} as const;

export const ZkReply = {
  ACK_OK: 2000,
  ACK_ERROR: 2001,
  ACK_DATA: 2002,
  ACK_RETRY: 2003,
  ACK_REPEAT: 2004,
  ACK_UNAUTH: 2005,
  ACK_UNKNOWN: 0xffff,
  ACK_ERROR_CMD: 65533,
  ACK_ERROR_INIT: 65532,
  ACK_ERROR_DATA: 65531,
} as const;

/** Flags of CMD_REG_EVENT; an event packet carries its flag in the session field (§2.11). */
export const ZkEventFlag = {
  ATTLOG: 1,
  FINGER: 2,
  ENROLL_USER: 4,
  ENROLL_FINGER: 8,
  BUTTON: 16,
  UNLOCK: 32,
  VERIFY: 128,
  FPFTR: 256,
  ALARM: 512,
} as const;

const NAMES = new Map<number, string>([
  ...Object.entries(ZkCommand).map(([name, code]) => [code, `CMD_${name}`] as const),
  ...Object.entries(ZkReply).map(([name, code]) => [code, name] as const),
]);

/** `CMD_GET_TIME`, `ACK_OK`, or `code 4242` for codes the table does not know. */
export function zkCodeName(code: number): string {
  return NAMES.get(code) ?? `code ${code}`;
}
