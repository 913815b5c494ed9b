// `images` and `build` resolve through one resolver: for the same input they print the same warnings and stop with
// the same exit status, on a real engine.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runKfbundle } from '../helpers/cli.js';
import { deploymentYaml } from '../helpers/manifests.js';
import { dockerFor, pushStandIns } from '../helpers/synthetic-images.js';
import { loudHook, useTestEnv, type TestEnv } from '../helpers/test-env.js';
import { withTempDir } from '../helpers/tmp.js';

const test = suite<{ env: TestEnv; image: string }>('one resolver for images and build');

test.before(
  loudHook('one-resolver setup', async (context) => {
    context.env = await useTestEnv();
    // Served by the local registry behind the mirror prefix, so the build reaches nothing outside this machine.
    context.image = 'gcr.io/kfb-one-resolver/app:1';
    await pushStandIns(dockerFor(context.env.builderHost), context.env.registry, [context.image], { layers: 1 });
  }),
);
test.after(async (context) => {
  await dockerFor(context.env.builderHost).getImage(context.image).remove({ force: true }).catch(() => {});
  await dockerFor(context.env.builderHost).getImage(`${context.env.registry}/${context.image}`).remove({ force: true }).catch(() => {});
  await context.env.release();
});

const warningLines = (stderr: string) =>
  stderr
    .split('\n')
    .map((line) => /warning: (.*)$/.exec(line)?.[1])
    .filter((line): line is string => line !== undefined)
    .sort();

const configMapWithTemplate = `apiVersion: v1
kind: ConfigMap
metadata: {name: runtime-images, namespace: kubeflow}
data:
  spec.yaml: |
    image: $UNDEFINED_IMAGE
  other.yaml: |
    containers: [{image: "{{ .Values.image }}"}]
`;

test('the same warnings, exit 0 from both', async ({ env, image }) => {
  await withTempDir(async (dir) => {
    const input = join(dir, 'rendered.yaml');
    await writeFile(input, `${deploymentYaml('kubeflow', 'app', `      - {name: app, image: "${image}"}\n`)}---\n${configMapWithTemplate}`);
    const images = await runKfbundle(['images', '--manifests', input]);
    const build = await runKfbundle(['build', '--no-seed-registry', '--manifests', input, '--out', join(dir, 'bundle'), '--cache', join(dir, 'cache'), '--mirror', `gcr.io=${env.registry}/gcr.io`, '--no-progress']);
    assert.is(images.code, 0, images.stderr);
    assert.is(build.code, 0, build.stderr);
    const templateWarning =
      'ConfigMap/kubeflow/runtime-images data[other.yaml].containers[0].image: "{{ .Values.image }}": template placeholder, filled in at run time; not resolvable from the manifests';
    const fromImages = warningLines(images.stderr);
    assert.equal(fromImages.length, 2, images.stderr);
    assert.ok(fromImages.includes(templateWarning), images.stderr);
    assert.ok(fromImages.some((line) => line.startsWith('ConfigMap/kubeflow/runtime-images data[spec.yaml].image: "$UNDEFINED_IMAGE": ')), images.stderr);
    assert.equal(warningLines(build.stderr), fromImages);
  });
});

test('a pod-template image that does not parse stops both with exit 3, naming the object and field', async () => {
  await withTempDir(async (dir) => {
    const input = join(dir, 'rendered.yaml');
    await writeFile(input, deploymentYaml('kubeflow', 'broken', '      - {name: app, image: "Gcr.IO/UPPER CASE:1"}\n'));
    const images = await runKfbundle(['images', '--manifests', input, '--json']);
    const build = await runKfbundle(['build', '--no-seed-registry', '--manifests', input, '--out', join(dir, 'bundle'), '--cache', join(dir, 'cache'), '--json', '--no-progress']);
    for (const [name, run] of [['images', images], ['build', build]] as const) {
      assert.is(run.code, 3, `${name}: ${run.stderr}`);
      const error = JSON.parse(run.stdout).error;
      assert.is(error.code, 'IMAGE_REF_INVALID', name);
      assert.match(error.message, 'Deployment/kubeflow/broken spec.template.spec.containers[0].image', name);
    }
    assert.is(JSON.parse(images.stdout).error.message, JSON.parse(build.stdout).error.message);
  });
});

test.run();
