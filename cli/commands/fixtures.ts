import type { Command } from './command.js';

export const fixturesCommand: Command = {
  name: 'fixtures',
  summary: 'Generate a realistic campus (students, faculty, sections, a clash-free timetable) as import files',
  usage: 'fixtures generate --students <n> [--seed <s>] [--out <dir>] [--demo-hours] [--load [--database-url <url> | --data-dir <dir>]]',
  description: [
    'Writes one import file per kind into --out, named in the order `campushub import` must load them.',
    'The same --seed gives byte-identical files. --load imports them straight into the database.',
    'With --demo-hours a section meets in the room of door-101 every hour of every day, for the demo\'s scanner.',
  ].join('\n'),
  positionals: [{ name: 'action', description: 'generate', required: true }],
  options: {
    students: { type: 'string', description: 'number of students (1 to 200000)' },
    seed: { type: 'string', default: '1', description: 'seed of the generator (default 1)' },
    out: { type: 'string', default: './data/fixtures', description: 'directory for the files (default ./data/fixtures)' },
    'demo-hours': { type: 'boolean', description: 'add the always-in-session demo section at door-101' },
    load: { type: 'boolean', description: 'import the files into the database after writing them' },
    'database-url': { type: 'string', env: 'DATABASE_URL', description: 'Postgres URL for --load; without it the embedded PGlite is used' },
    'data-dir': { type: 'string', default: './data/hub', env: 'CAMPUSHUB_DATA_DIR', description: 'PGlite data directory for --load (default ./data/hub)' },
  },
  async run(args) {
    const { runFixtures } = await import('../start/fixtures.js');
    return runFixtures(args);
  },
};
