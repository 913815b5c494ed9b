// The plan of each real release against its golden files in test/golden/<case>/. A change to what a bundle contains
// fails here until `npm run golden:update` rewrites them, so it reaches review as a diff of those files.

import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { GOLDEN_CASES, GOLDEN_DIR, goldenFiles, planFor } from '../helpers/golden-plan.js';

const test = suite('bundle plan golden files');
const UPDATE = process.env['KFB_UPDATE_GOLDEN'] === '1';

async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => relative(dir, join(entry.parentPath, entry.name))).sort();
}

/** The first differing line, so a failure says where without printing megabytes. */
function firstDifference(expected: string, actual: string): string {
  const a = expected.split('\n');
  const b = actual.split('\n');
  const line = a.findIndex((text, index) => text !== b[index]);
  const at = line === -1 ? a.length : line;
  return `line ${at + 1}:\n  golden: ${JSON.stringify(a[at] ?? '(end)')}\n  plan:   ${JSON.stringify(b[at] ?? '(end)')}`;
}

for (const goldenCase of GOLDEN_CASES) {
  test(`${goldenCase.name}: the plan's files equal test/golden/${goldenCase.name}`, async () => {
    const dir = join(GOLDEN_DIR, goldenCase.name);
    const files = goldenFiles(await planFor(goldenCase), goldenCase);
    if (UPDATE) {
      await rm(dir, { recursive: true, force: true });
      for (const [path, text] of files) {
        await mkdir(dirname(join(dir, path)), { recursive: true });
        await writeFile(join(dir, path), text);
      }
      return;
    }
    assert.equal(await listTree(dir), [...files.keys()].sort(), `the golden files of ${goldenCase.name} (run: npm run golden:update)`);
    for (const [path, text] of files) {
      const golden = await readFile(join(dir, path), 'utf8');
      if (golden !== text) assert.unreachable(`test/golden/${goldenCase.name}/${path} differs at ${firstDifference(golden, text)}\n(run: npm run golden:update, and review the diff)`);
    }
  });
}

test.run();
