// What scripts and people read: --json shapes, plain output without escape codes when not on a terminal, and the
// examples printed by --help, run as printed.

import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCommand, runKfbundle } from '../helpers/cli.js';
import { KUBEFLOW_FIXTURES, renderedPath } from '../helpers/fixtures.js';
import { serveFiles } from '../helpers/http-server.js';
import { REPO_ROOT } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';
import { buildWithFakeStore } from '../helpers/fake-build.js';

const test = suite<{ dir: { path: string; remove(): Promise<void> } }>('CLI output');
const ESCAPE = /\x1b\[/;

test.before(async (context) => {
  context.dir = await makeTempDir();
  // The working directory the --help examples expect: ./rendered.yaml, ./kubeflow-bundle, bundle-spec/.
  await symlink(renderedPath('v1.10.2'), join(context.dir.path, 'rendered.yaml'));
  await symlink(join(REPO_ROOT, 'bundle-spec'), join(context.dir.path, 'bundle-spec'));
  await buildWithFakeStore(renderedPath('v1.10.2'), join(context.dir.path, 'kubeflow-bundle'), { saveBytes: 10_000 });
});

test.after(async (context) => {
  await context.dir?.remove();
});

test('--json shapes of images, verify and inspect', async ({ dir }) => {
  const images = await runKfbundle(['images', '--manifests', join(dir.path, 'rendered.yaml'), '--json']);
  const imagesJson = JSON.parse(images.stdout);
  assert.equal(Object.keys(imagesJson).sort(), ['components', 'excluded', 'images', 'tiers', 'warnings']);
  assert.equal(Object.keys(imagesJson.components).sort(), ['recognised', 'unrecognised']);
  assert.equal(Object.keys(imagesJson.images[0]).sort(), ['included', 'locations', 'ref', 'tier']);
  assert.equal(Object.keys(imagesJson.images[0].locations[0]).sort(), ['object', 'path', 'via']);

  const verify = JSON.parse((await runKfbundle(['verify', join(dir.path, 'kubeflow-bundle'), '--json'])).stdout);
  assert.equal(Object.keys(verify).sort(), ['bundle', 'bytes', 'files', 'ok', 'problems', 'signature']);

  const inspect = JSON.parse((await runKfbundle(['inspect', join(dir.path, 'kubeflow-bundle'), '--json'])).stdout);
  assert.equal(Object.keys(inspect).sort(), ['archives', 'base', 'bundle', 'files', 'formatVersion', 'images', 'indexes', 'input', 'notBundled', 'otherPlatforms', 'phases', 'platform', 'platforms', 'registry', 'requirements', 'signed', 'spec', 'tiers', 'tool', 'totalBytes', 'warnings'].sort());
  assert.is(inspect.phases[0].name, '00-crds');
  assert.equal(inspect.archives.map((a: { path: string; parts: number }) => [a.path, a.parts]), [['images/images.tar', 1]]);
  assert.is(inspect.registry, null);
  assert.is(inspect.images.find((g: { tier: string }) => g.tier === 'install').count, 51);

  const failure = await runKfbundle(['verify', join(dir.path, 'nowhere'), '--json']);
  assert.equal(Object.keys(JSON.parse(failure.stdout).error).sort(), ['code', 'hint', 'message']);
});

test('output to a pipe has no escape codes; progress lines are timestamped', async ({ dir }) => {
  for (const args of [
    ['images', '--manifests', join(dir.path, 'rendered.yaml')],
    ['inspect', join(dir.path, 'kubeflow-bundle')],
    ['verify', join(dir.path, 'kubeflow-bundle')],
    ['build', '--no-seed-registry', '--manifests', join(dir.path, 'rendered.yaml'), '--out', join(dir.path, 'x'), '--source', 'engine', '--docker-host', `unix://${join(dir.path, 'no.sock')}`],
    ['--help'],
  ]) {
    const result = await runKfbundle(args);
    assert.not.match(result.stdout + result.stderr, ESCAPE, args.join(' '));
  }
});

test('every --help example that works offline runs as printed', async ({ dir }) => {
  const commands = ['keygen', 'sign', 'verify', 'inspect', 'images'];
  let ran = 0;
  for (const command of commands) {
    const help = await runKfbundle([command, '--help']);
    const examples = help.stdout
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line.startsWith('kfbundle '))
      .filter((line) => !line.includes('--release'));
    assert.ok(examples.length > 0, `${command} --help has examples`);
    for (const example of examples) {
      const words = example.replace(/\s+#.*$/, '').split(/\s+/).slice(1);
      const result = await runCommand(process.execPath, [join(REPO_ROOT, 'bin/kfbundle.js'), ...words], { cwd: dir.path });
      assert.is(result.code, 0, `${example}\n${result.stderr}`);
      ran++;
    }
  }
  assert.ok(ran >= 10, `examples run: ${ran}`);
});

test('every build --help example runs as printed up to the image source; the --release examples download and render', async ({ dir }) => {
  // Release archives come from 127.0.0.1 (KFBUNDLE_RELEASE_URL). The registry source would go on to the real
  // registries, which tests never reach, so each example runs with `--source engine` added last (the last value
  // wins): build checks the engine before it downloads anything, so with the engine absent each build example proves
  // option parsing, spec lookup and validation (mirrors, registry, partition, split size, cache, insecure registries)
  // and stops with exit 4; the images examples with --release go through download and render.
  const extracted = await runCommand('tar', ['-xzf', join(KUBEFLOW_FIXTURES, 'v1.10.2/manifests-v1.10.2.tar.gz')], { cwd: dir.path });
  assert.is(extracted.code, 0, extracted.stderr);
  await symlink(join(dir.path, 'manifests-v1.10.2'), join(dir.path, 'manifests'));
  await writeFile(join(dir.path, 'pipeline-images.txt'), 'docker.io/library/python:3.12\n');
  const server = await serveFiles({ '/kubeflow/manifests/archive/refs/tags/v1.10.2.tar.gz': join(KUBEFLOW_FIXTURES, 'v1.10.2/manifests-v1.10.2.tar.gz') });
  const env = { KFBUNDLE_RELEASE_URL: `${server.url}/{repository}/archive/refs/tags/{ref}.tar.gz`, DOCKER_HOST: `unix://${join(dir.path, 'no-engine.sock')}` };
  const examplesOf = async (command: string) =>
    (await runKfbundle([command, '--help'])).stdout.split('\n').map((line) => line.trim()).filter((line) => line.startsWith(`kfbundle ${command}`));
  const run = (example: string) =>
    runCommand(process.execPath, [join(REPO_ROOT, 'bin/kfbundle.js'), ...example.replace(/\s+#.*$/, '').split(/\s+/).slice(1)], { cwd: dir.path, env });
  try {
    const buildExamples = await examplesOf('build');
    assert.ok(buildExamples.length >= 7, buildExamples.join('\n'));
    for (const example of buildExamples) {
      const result = await run(`${example.replace(/\s+#.*$/, '')} --source engine`);
      // Bundles of several platforms and delta bundles come from registries only, which is said before anything else.
      if (example.includes('--since') || /--platform \S+,/.test(example)) {
        assert.is(result.code, 2, `${example}\n${result.stderr}`);
        assert.match(result.stderr, /is built from registries/, example);
        continue;
      }
      assert.is(result.code, 4, `${example}\n${result.stderr}`);
      assert.match(result.stderr, 'cannot reach the Docker engine', example);
    }
    const releaseExamples = (await examplesOf('images')).filter((line) => line.includes('--release'));
    assert.ok(releaseExamples.length >= 1);
    for (const example of releaseExamples) {
      const result = await run(example);
      assert.match(result.stdout, 'ghcr.io/kubeflow/', example);
      if (!example.includes('--platform')) {
        assert.is(result.code, 0, `${example}\n${result.stderr}`);
        continue;
      }
      // No registry answers here: every image is reported as not asked, none as lacking the platform.
      assert.is(result.code, 5, `${example}\n${result.stderr}`);
      assert.match(result.stderr, /bundled images could not be asked for linux\/arm64 \(no source answered/, example);
      assert.not.match(result.stderr, /do not offer/, example);
    }
  } finally {
    await server.close();
  }
});

test('install.sh --help examples that need no cluster run as printed', async ({ dir }) => {
  const bundle = join(dir.path, 'kubeflow-bundle');
  const help = await runCommand('bash', [join(bundle, 'install.sh'), '--help']);
  assert.match(help.stdout, './install.sh --dry-run');
  for (const example of ['./install.sh --verify-only', './install.sh --dry-run']) {
    const result = await runCommand('bash', [join(bundle, example.slice(2).split(' ')[0]!), ...example.split(' ').slice(1)], { cwd: bundle });
    assert.is(result.code, 0, `${example}\n${result.stderr}`);
  }
});

test.run();
