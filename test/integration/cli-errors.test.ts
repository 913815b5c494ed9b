// The built CLI as a user meets it: exit codes, messages that name the fault, and JSON errors for scripts.

import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runKfbundle } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tmp.js';

const test = suite('CLI errors and exit codes');

test('--version prints the package version', async () => {
  const result = await runKfbundle(['--version']);
  assert.is(result.code, 0);
  assert.match(result.stdout, /^\d+\.\d+\.\d+\n$/);
});

test('usage errors exit 2 and say what is wrong', async () => {
  const concurrency = await runKfbundle(['build', '--no-seed-registry', '--manifests', 'x.yaml', '--concurrency', '0']);
  assert.is(concurrency.code, 2);
  assert.match(concurrency.stderr, '--concurrency must be a whole number of at least 1, got "0"');
  const both = await runKfbundle(['build', '--no-seed-registry', '--manifests', 'x.yaml', '--release', 'v1.10.2']);
  assert.is(both.code, 2);
  assert.match(both.stderr, 'give either --manifests or --release, not both');
  const none = await runKfbundle(['images']);
  assert.is(none.code, 2);
  assert.match(none.stderr, 'give --manifests FILE|DIR or --release TAG');
  const tiers = await runKfbundle(['images', '--manifests', 'x.yaml', '--tiers', 'install,everything']);
  assert.is(tiers.code, 2);
  assert.match(tiers.stderr, 'invalid --tiers "install,everything"');
});

test('an unreachable Docker engine exits 4, names the socket, and writes nothing', async () => {
  const dir = await makeTempDir();
  try {
    const input = join(dir.path, 'rendered.yaml');
    await writeFile(input, 'kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: busybox:1.28}]}\n');
    const socket = join(dir.path, 'no-such.sock');
    const result = await runKfbundle(['build', '--no-seed-registry', '--manifests', input, '--out', join(dir.path, 'b'), '--source', 'engine', '--docker-host', `unix://${socket}`, '--json']);
    assert.is(result.code, 4);
    assert.match(result.stderr, `cannot reach the Docker engine at unix://${socket}`);
    assert.match(result.stderr, 'hint: start Docker');
    assert.is(JSON.parse(result.stdout).error.code, 'DOCKER_UNREACHABLE');
    assert.equal(await readdir(dir.path), ['rendered.yaml']);
  } finally {
    await dir.remove();
  }
});

test('images on a missing input exits 3 naming the path', async () => {
  const result = await runKfbundle(['images', '--manifests', 'no/such/file.yaml']);
  assert.is(result.code, 3);
  assert.match(result.stderr, 'manifests not found: "no/such/file.yaml"');
});

test('verify on a directory that is not a bundle exits 8', async () => {
  const dir = await makeTempDir();
  try {
    const result = await runKfbundle(['verify', dir.path]);
    assert.is(result.code, 8);
    assert.match(result.stderr, 'SHA256SUMS is missing');
  } finally {
    await dir.remove();
  }
});

test.run();
