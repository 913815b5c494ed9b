// src/core holds the pure logic: it may import only other core modules, so it stays testable without I/O.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../helpers/test-env.js';

const test = suite('architecture');
const CORE = join(REPO_ROOT, 'src/core');
// node:crypto's hashes are pure functions of their input: the bundle plan digests the files it decides.
const ALLOWED_PACKAGES = new Set(['yaml', 'js-yaml', 'node:crypto']);

test('core modules import only core modules and pure packages', async () => {
  const files = (await readdir(CORE)).filter((name) => name.endsWith('.ts'));
  assert.ok(files.length > 5);
  for (const file of files) {
    const text = await readFile(join(CORE, file), 'utf8');
    for (const match of text.matchAll(/^import .* from '([^']+)';$/gm)) {
      const source = match[1]!;
      const ok = (source.startsWith('./') && !source.includes('/..')) || ALLOWED_PACKAGES.has(source);
      assert.ok(ok, `${file} imports ${source}`);
    }
    assert.not.match(text, /process\.|Date\.now|require\(/, `${file} reaches for process-wide state`);
  }
});

// kubectl's meaning of every scalar is stated once, in core/kube-yaml.ts: a second reader or writer would drift from it.
test('only core/kube-yaml.ts reads or writes YAML with a YAML package', async () => {
  const importers: string[] = [];
  for (const dir of ['src', 'test', 'bench']) {
    const files = (await readdir(join(REPO_ROOT, dir), { recursive: true })).filter((name) => name.endsWith('.ts'));
    for (const file of files) {
      const text = await readFile(join(REPO_ROOT, dir, file), 'utf8');
      if (/^import .* from '(?:js-)?yaml';$/m.test(text) || /import\(['"](?:js-)?yaml['"]\)/.test(text)) importers.push(`${dir}/${file}`);
    }
  }
  assert.equal(importers, ['src/core/kube-yaml.ts']);
});

test.run();
