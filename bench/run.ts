/**
 * npm run bench -- <name> [options]
 * Each benchmark prints one JSON document on stdout; progress goes to stderr.
 */
const BENCHMARKS: Record<string, () => Promise<{ run(args: string[]): Promise<unknown> }>> = {
  ingest: () => import('./ingest.js'),
  'zk-logs': () => import('./zkLogs.js'),
  'class-change': () => import('./classChange.js'),
  audit: () => import('./audit.js'),
  drain: () => import('./drain.js'),
  'agent-footprint': () => import('./agentFootprint.js'),
};

const [name, ...args] = process.argv.slice(2);
if (!name || !BENCHMARKS[name]) {
  console.error(`usage: npm run bench -- <${Object.keys(BENCHMARKS).join('|')}> [options]`);
  process.exit(2);
}
const result = await (await BENCHMARKS[name]!()).run(args);
console.log(JSON.stringify(result, null, 2));
process.exit(0);
