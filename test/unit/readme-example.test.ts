/**
 * The README's training example is demo/example.ts as printed: the README's
 * code block under "Training" equals the file's text between its
 * `// README: begin` and `// README: end` lines, so the code that
 * test/gpu/readme-example.test.ts runs is the code a reader copies.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

/** The lines of demo/example.ts between its README markers. */
function exampleText(): string {
  const lines = readFileSync(resolve(root, 'demo/example.ts'), 'utf8').split('\n');
  const begin = lines.indexOf('// README: begin');
  const end = lines.indexOf('// README: end');
  expect(begin, 'the `// README: begin` line').toBeGreaterThanOrEqual(0);
  expect(end, 'the `// README: end` line').toBeGreaterThan(begin);
  return lines.slice(begin + 1, end).join('\n');
}

/** The first ```ts block of the README's "## Training" section. */
function readmeBlock(): string {
  const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Training\n'));
  const m = /\n```ts\n([\s\S]*?)\n```\n/.exec(section);
  expect(m, 'a ```ts block in the Training section').not.toBeNull();
  return m ? m[1] : '';
}

it("the README's training example is demo/example.ts, verbatim", () => {
  const example = exampleText();
  expect(example).toContain("from 'webode'");
  expect(example).toContain('iterations: 2000');
  expect(readmeBlock()).toBe(example);
});

it('the README states the number of iterations the example runs', () => {
  const n = Number(/iterations: (\d+)/.exec(exampleText())?.[1]);
  expect(Number.isInteger(n)).toBe(true);
  const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
  expect(readme).toContain(`in its ${n.toLocaleString('en-US')} iterations`);
});
