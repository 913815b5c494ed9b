// A registry that lacks an image: the real engine's in-band error fails the build, naming every missing image,
// after the images that do exist were pulled; nothing is written.

import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCommand, runKfbundle } from '../helpers/cli.js';
import { dockerFor, pushStandIns } from '../helpers/synthetic-images.js';
import { loudHook, REPO_ROOT, useTestEnv, type TestEnv } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';

const test = suite<{ env: TestEnv }>('pull failures on a real engine');

test.before(loudHook('setup', async (context) => {
  context.env = await useTestEnv();
}));
test.after(loudHook('teardown', async (context) => {
  await context.env?.release();
}));

test('missing images are all named, the present one is pulled, and no bundle is left', async ({ env }) => {
  // A server with no compiled-in image (an API server would add the driver and launcher it compiles in).
  const present = 'ghcr.io/kubeflow/kfp-persistence-agent:2.5.0';
  await pushStandIns(dockerFor(env.builderHost), env.registry, [present]);
  const dir = await makeTempDir();
  try {
    const input = join(dir.path, 'rendered.yaml');
    const pod = (name: string, image: string) => `kind: Pod\nmetadata: {name: ${name}}\nspec: {containers: [{name: c, image: "${image}"}]}\n`;
    await writeFile(input, [pod('a', present), pod('b', 'ghcr.io/kubeflow/not-pushed:v1'), pod('c', 'quay.io/nobody/absent:v2')].join('---\n'));
    const result = await runKfbundle([
      'build', '--no-seed-registry', '--manifests', input, '--out', join(dir.path, 'bundle'), '--source', 'engine', '--docker-host', env.builderHost, '--no-progress',
      '--mirror', `ghcr.io=${env.registry}/ghcr.io`, '--mirror', `quay.io=${env.registry}/quay.io`,
    ]);
    assert.is(result.code, 5, result.stderr);
    assert.match(result.stderr, '2 of 3 images could not be pulled');
    assert.match(result.stderr, /ghcr\.io\/kubeflow\/not-pushed:v1: .*(not found|unknown)/);
    assert.match(result.stderr, /quay\.io\/nobody\/absent:v2: .*(not found|unknown)/);
    assert.not.match(result.stderr, 'retry', 'a missing image is not retried');
    assert.equal(await readdir(dir.path), ['rendered.yaml']);
    const pulled = await dockerFor(env.builderHost).getImage(present).inspect();
    assert.ok(pulled.Id.startsWith('sha256:'));
  } finally {
    await dir.remove();
  }
});

test('on a terminal the build draws progress bars and finishes; on a terminal without a width it prints plain lines', async ({ env }) => {
  const ref = 'ghcr.io/kubeflow/kfp-frontend:2.5.0';
  await pushStandIns(dockerFor(env.builderHost), env.registry, [ref]);
  const dir = await makeTempDir();
  try {
    const input = join(dir.path, 'rendered.yaml');
    await writeFile(input, `kind: Pod\napiVersion: v1\nmetadata: {name: a}\nspec: {containers: [{name: c, image: "${ref}"}]}\n`);
    for (const columns of ['120', '0']) {
      const out = join(dir.path, `bundle-${columns}`);
      const result = await runCommand('python3', [
        join(REPO_ROOT, 'test/helpers/pty-run.py'), columns, '60', process.execPath, join(REPO_ROOT, 'bin/kfbundle.js'),
        'build', '--no-seed-registry', '--manifests', input, '--out', out, '--source', 'engine', '--docker-host', env.builderHost, '--mirror', `ghcr.io=${env.registry}/ghcr.io`,
      ]);
      assert.is(result.code, 0, `columns ${columns}: did not finish\n${result.stdout.slice(-2000)}`);
      assert.match(result.stdout, `bundle written to ${out}`);
      if (columns === '120') {
        assert.match(result.stdout, /\x1b\[/, 'a terminal gets escape codes');
        assert.match(result.stdout, 'total 1/1 images');
        assert.match(result.stdout, '█');
      } else {
        assert.match(result.stdout, /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z pull: 1 images/);
        assert.not.match(result.stdout, '█');
      }
    }
  } finally {
    await dir.remove();
  }
});

test.run();
