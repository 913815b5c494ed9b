// A registry that lacks an image: the real engine's in-band error fails the build, naming every missing image,
// after the images that do exist were pulled; nothing is written.

import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runKfbundle } from '../helpers/cli.js';
import { dockerFor, pushStandIns } from '../helpers/synthetic-images.js';
import { loudHook, useTestEnv, type TestEnv } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';

const test = suite<{ env: TestEnv }>('pull failures on a real engine');

test.before(loudHook('setup', async (context) => {
  context.env = await useTestEnv();
}));
test.after(loudHook('teardown', async (context) => {
  await context.env?.release();
}));

test('missing images are all named, the present one is pulled, and no bundle is left', async ({ env }) => {
  const present = 'ghcr.io/kubeflow/kfp-api-server:2.5.0';
  await pushStandIns(dockerFor(env.builderHost), env.registry, [present]);
  const dir = await makeTempDir();
  try {
    const input = join(dir.path, 'rendered.yaml');
    const pod = (name: string, image: string) => `kind: Pod\nmetadata: {name: ${name}}\nspec: {containers: [{name: c, image: "${image}"}]}\n`;
    await writeFile(input, [pod('a', present), pod('b', 'ghcr.io/kubeflow/not-pushed:v1'), pod('c', 'quay.io/nobody/absent:v2')].join('---\n'));
    const result = await runKfbundle([
      'build', '--manifests', input, '--out', join(dir.path, 'bundle'), '--docker-host', env.builderHost, '--no-progress',
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

test.run();
