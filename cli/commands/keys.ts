import type { Command } from './command.js';

export const keysCommand: Command = {
  name: 'keys',
  summary: 'Rotate and retire the hub\'s key-encryption keys (KEKs)',
  usage: 'keys rotate [options]\n       campushub keys retire <kid> [options]',
  description: [
    'rotate: adds a new random KEK to the key file (written atomically, mode 0600), makes it',
    'active and re-wraps every data key under it in batches, one transaction each, with a',
    'progress bar on stderr. Payloads are not re-encrypted; only the data keys\' wraps change.',
    'Resuming: when some data keys are not under the active KEK yet (an interrupted rotation,',
    'or hubs that still ran with the old key file), `keys rotate` does NOT add another key; it',
    'continues re-wrapping to the active one. So after an interruption simply run it again.',
    'Once no data key is left behind, running it again starts a new rotation with a new key.',
    'With --rewrap-only it never adds a key: use that after restarting the hubs with the new',
    'key file, to sweep data keys they wrote under the old KEK meanwhile, and when the KEKs',
    'come from CAMPUSHUB_KEKS (put the new key first there, restart the hubs, then run it).',
    '',
    'retire <kid>: removes a KEK from the key file, refused while it is the active key or while',
    'any data key is still wrapped by it (the error gives the count). Restart every hub with the',
    'current key file and run `keys rotate --rewrap-only` before retiring the old key.',
    'The database is migrated first. See docs/security.md.',
  ].join('\n'),
  positionals: [
    { name: 'action', description: 'rotate or retire', required: true },
    { name: 'kid', description: 'retire: the id of the KEK to remove, e.g. k1' },
  ],
  options: {
    'key-file': {
      type: 'string',
      env: 'CAMPUSHUB_KEY_FILE',
      description: 'The KEK file, {"active":"k2","keys":{"k1":"<base64>",…}} (default: the development key file <data-dir>/hub-keys.json)',
    },
    'database-url': { type: 'string', env: 'DATABASE_URL', description: 'Postgres URL; without it the embedded PGlite is used' },
    'data-dir': { type: 'string', default: './data/hub', env: 'CAMPUSHUB_DATA_DIR', description: 'PGlite data directory (default ./data/hub)' },
    'batch-size': { type: 'string', default: '500', description: 'rotate: data keys re-wrapped per transaction (default 500)' },
    'rewrap-only': { type: 'boolean', default: false, description: 'rotate: never add a key; only re-wrap data keys not under the active KEK' },
  },
  async run(args) {
    const { runKeys } = await import('../start/keys.js');
    return runKeys(args);
  },
};
