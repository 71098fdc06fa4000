import type { Command } from './command.js';

export const importCommand: Command = {
  name: 'import',
  summary: 'Import a CSV or JSON file from the student information system into the hub\'s database',
  usage: 'import <kind> <file> [--table <table>] [--dry-run] [options]',
  description: [
    'Kinds: campus, students, faculty, courses, sections, enrolments, timetable, holidays (docs/import.md).',
    'The file is imported whole or not at all; each wrong row is printed as "row 12, column roll_no: …" and the exit code is 1.',
    'Rows are upserted by their natural key, so importing a file again updates what changed.',
  ].join('\n'),
  positionals: [
    { name: 'kind', description: 'what the file holds', required: true },
    { name: 'file', description: 'a .csv or .json file', required: true },
  ],
  options: {
    table: { type: 'string', description: 'for a campus CSV: the table the file holds (departments, rooms, …)' },
    format: { type: 'string', description: 'csv or json (default: from the file name)' },
    'dry-run': { type: 'boolean', description: 'check and write inside a transaction, then roll back' },
    'database-url': { type: 'string', env: 'DATABASE_URL', description: 'Postgres URL; without it the embedded PGlite is used' },
    'data-dir': { type: 'string', default: './data/hub', env: 'CAMPUSHUB_DATA_DIR', description: 'PGlite data directory (default ./data/hub)' },
  },
  async run(args) {
    const { runImportCommand } = await import('../start/import.js');
    return runImportCommand(args);
  },
};
