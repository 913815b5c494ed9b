// The trip on a disk: the same inputs give the same bytes on two engines, a split archive is the same archive in
// parts and installs from them, and a build killed with SIGKILL during the pulls or the save finishes when run again,
// without pulling again what the engine already has, into the same SHA256SUMS.

import { spawn } from 'node:child_process';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { BundleMetadata } from '../../src/core/bundle-layout.js';
import { REPO_ROOT } from '../helpers/test-env.js';
import { BUILD_MS, runCommand, runKfbundle } from '../helpers/cli.js';
import { deploymentYaml } from '../helpers/manifests.js';
import { dockerFor, pushStandIns, type StandIn } from '../helpers/synthetic-images.js';
import { loudHook, useTestEnv, type TestEnv } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';

interface Context {
  env: TestEnv;
  work: { path: string; remove(): Promise<void> };
  standIns: StandIn[];
  rendered: string;
  reference: { dir: string; sums: string; metadata: BundleMetadata };
}

const test = suite<Context>('reproducible, split and resumable builds');

const REFS = [
  'ghcr.io/kubeflow/kfp-api-server:2.5.0-repro',
  'gcr.io/ml-pipeline/workflow-controller:v3.5.14-repro',
  'quay.io/jetstack/cert-manager-cainjector:v1.16.1-repro',
  'docker.io/kubeflownotebookswg/jupyter-web-app:v1.10.0-repro',
];

const mirrorArgs = (env: TestEnv) => ['gcr.io', 'ghcr.io', 'quay.io', 'docker.io'].flatMap((host) => ['--mirror', `${host}=${env.registry}/${host}`]);

function buildArgs(context: Context, out: string, dockerHost = context.env.builderHost): string[] {
  return ['build', '--no-seed-registry', '--manifests', context.rendered, '--out', out, '--source', 'engine', '--docker-host', dockerHost, '--no-progress', '--concurrency', '1', ...mirrorArgs(context.env)];
}

async function sumsOf(bundle: string): Promise<string> {
  return readFile(join(bundle, 'SHA256SUMS'), 'utf8');
}

/** Removes every copy of the stand-ins from an engine, so the next build must pull them. */
async function forgetImages(context: Context, host: string): Promise<void> {
  const docker = dockerFor(host);
  for (const standIn of context.standIns) {
    for (const name of [standIn.ref, standIn.pushedAs]) await docker.getImage(name).remove({ force: true }).catch(() => undefined);
  }
}

/** Starts a build and SIGKILLs it when its log shows `trigger`; resolves with what it printed. */
function buildKilledAt(context: Context, out: string, trigger: RegExp): Promise<{ stderr: string; killed: boolean }> {
  return new Promise((resolve, reject) => {
    // The build is meant to be killed at its trigger; if the trigger never comes, it is killed when the time is up.
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/kfbundle.js'), ...buildArgs(context, out)], { stdio: ['ignore', 'ignore', 'pipe'], timeout: BUILD_MS, killSignal: 'SIGKILL' });
    let stderr = '';
    let killed = false;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (!killed && trigger.test(stderr)) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', () => resolve({ stderr, killed }));
  });
}

test.before(
  loudHook('setup', async (context) => {
    context.env = await useTestEnv();
    context.work = await makeTempDir();
    // Layers of some megabytes, so that the save takes long enough to be interrupted.
    context.standIns = await pushStandIns(dockerFor(context.env.builderHost), context.env.registry, REFS, { layers: 2, layerBytes: 6 * 1024 * 1024 });
    context.rendered = join(context.work.path, 'rendered.yaml');
    await writeFile(
      context.rendered,
      context.standIns.map((standIn, index) => deploymentYaml('kubeflow', `app-${index}`, `      - {name: main, image: "${standIn.ref}"}\n`)).join('---\n'),
    );
    const dir = join(context.work.path, 'reference');
    const built = await runKfbundle(buildArgs(context, dir));
    assert.is(built.code, 0, built.stderr);
    context.reference = { dir, sums: await sumsOf(dir), metadata: JSON.parse(await readFile(join(dir, 'bundle.json'), 'utf8')) as BundleMetadata };
  }),
);

test.after(
  loudHook('teardown', async (context) => {
    await context.work?.remove();
    await context.env?.release();
  }),
);

test('two engines pulling the same images write byte-identical bundles', async (context) => {
  const other = join(context.work.path, 'other-team');
  const built = await runKfbundle(buildArgs(context, other, context.env.targetHost));
  assert.is(built.code, 0, built.stderr);
  assert.is(await sumsOf(other), context.reference.sums);
  await forgetImages(context, context.env.targetHost);
});

test('--split-size: parts that are the same archive, verified part by part, loaded from a stream of the parts', async (context) => {
  const split = join(context.work.path, 'split');
  const built = await runKfbundle([...buildArgs(context, split), '--split-size', '5Mi']);
  assert.is(built.code, 0, built.stderr);
  const metadata = JSON.parse(await readFile(join(split, 'bundle.json'), 'utf8')) as BundleMetadata;
  const [archive] = metadata.imageArchives;
  assert.ok(archive !== undefined && metadata.imageArchives.length === 1);
  assert.ok(archive.parts.length >= 4, `${archive.parts.length} parts`);
  assert.is(archive.sha256, context.reference.metadata.imageArchives[0]!.sha256, 'the parts concatenate to the unsplit archive');
  assert.is(archive.sha256, context.reference.metadata.files.find((f) => f.path === 'images/images.tar')!.sha256);
  assert.is((await runKfbundle(['verify', split])).code, 0);

  // A missing part is named by verify and by the installer, and nothing is loaded.
  const second = join(split, archive.parts[1]!);
  await rename(second, `${second}.away`);
  const verify = await runKfbundle(['verify', split]);
  assert.is(verify.code, 9);
  assert.match(verify.stderr, archive.parts[1]!);
  const refused = await runCommand('bash', [join(split, 'install.sh'), '--images-only', '--runtime', 'containerd'], {
    env: { CONTAINERD_ADDRESS: context.env.containerdAddress },
  });
  assert.is.not(refused.code, 0);
  assert.match(refused.stderr, archive.parts[1]!);
  await rename(`${second}.away`, second);

  for (const runtime of ['containerd', 'docker']) {
    const installed = await runCommand('bash', [join(split, 'install.sh'), '--images-only', '--runtime', runtime], {
      env: { CONTAINERD_ADDRESS: context.env.containerdAddress, DOCKER_HOST: context.env.targetHost },
    });
    assert.is(installed.code, 0, installed.stderr);
    assert.match(installed.stdout, `images/images.tar is in ${archive.parts.length} parts, streamed in order`);
    assert.match(installed.stdout, `all ${REFS.length} images present in ${runtime}`);
  }
  const target = dockerFor(context.env.targetHost);
  for (const image of metadata.images) assert.is((await target.getImage(image.bundleRef).inspect()).Id, image.imageId);
  await forgetImages(context, context.env.targetHost);
});

test('SIGKILL during the pulls: run again, the images already pulled are not pulled again, same SHA256SUMS', async (context) => {
  await forgetImages(context, context.env.builderHost);
  const out = join(context.work.path, 'killed-in-pull');
  const first = await buildKilledAt(context, out, /pulled \S+/);
  assert.ok(first.killed, first.stderr);
  const pulledBefore = [...first.stderr.matchAll(/pulled (\S+)/g)].map((match) => match[1]!);
  assert.ok(pulledBefore.length >= 1 && pulledBefore.length < REFS.length, first.stderr);
  assert.not.ok((await readdir(context.work.path)).includes('killed-in-pull'), 'nothing named like the bundle');

  const again = await runKfbundle(buildArgs(context, out));
  assert.is(again.code, 0, again.stderr);
  for (const ref of pulledBefore) assert.match(again.stderr, `already in the engine ${ref}`);
  assert.is(await sumsOf(out), context.reference.sums);
  assert.equal((await readdir(context.work.path)).filter((name) => name.startsWith('.killed-in-pull')), [], 'the abandoned staging directory is gone');
});

test('SIGKILL during the save: nothing looks finished; run again, nothing is pulled, same SHA256SUMS', async (context) => {
  const out = join(context.work.path, 'killed-in-save');
  const first = await buildKilledAt(context, out, /save: \d+ images/);
  assert.ok(first.killed, first.stderr);
  const names = await readdir(context.work.path);
  assert.not.ok(names.includes('killed-in-save'), 'nothing named like the bundle');
  assert.ok(names.some((name) => name.startsWith('.killed-in-save.partial-')), 'only a hidden staging directory');

  const again = await runKfbundle(buildArgs(context, out));
  assert.is(again.code, 0, again.stderr);
  assert.not.match(again.stderr, /\bpulled /, 'every image was already in the engine');
  assert.is(await sumsOf(out), context.reference.sums);
  assert.equal((await readdir(context.work.path)).filter((name) => name.startsWith('.killed-in-save')), []);
});

test.run();
