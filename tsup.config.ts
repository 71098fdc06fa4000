import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { 'cli/campushub': 'cli/campushub.ts' },
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  outDir: 'dist',
  sourcemap: true,
  clean: true,
  splitting: true,
  // Native and wasm-bearing packages must load from node_modules at run time.
  external: ['better-sqlite3', 'serialport', 'node-hid', '@electric-sql/pglite', 'pg'],
});
