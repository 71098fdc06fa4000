// Writes one line per finished top-level or nested test: its outcome. The test
// runner script adds these up across files for the closing summary line.
export default async function* countOutcomes(source) {
  for await (const event of source) {
    if (event.type === 'test:pass') yield `${event.data.skip || event.data.todo ? 'skip' : 'pass'}\n`;
    else if (event.type === 'test:fail') yield 'fail\n';
  }
}
