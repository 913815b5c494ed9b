// `--release TAG`: the real v1.10.2 archive served from 127.0.0.1 renders to exactly the shipped rendered.yaml;
// a missing release and an archive that tries to escape its directory are refused.

import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { create as createTar } from 'tar';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseBundleSpec } from '../../src/core/bundle-spec.js';
import { KfbundleError } from '../../src/core/errors.js';
import { extractArchiveSafely, ReleaseManifestSource, unsafeEntryReason } from '../../src/io/release-source.js';
import { runKfbundle } from '../helpers/cli.js';
import { KUBEFLOW_FIXTURES, renderedPath } from '../helpers/fixtures.js';
import { deploymentYaml } from '../helpers/manifests.js';
import { serveFiles, type StaticServer } from '../helpers/http-server.js';
import { REPO_ROOT } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';

const test = suite<{ server: StaticServer; work: { path: string; remove(): Promise<void> } }>('release download');
const TEMPLATE_PATH = '/{repository}/archive/refs/tags/{ref}.tar.gz';

/** A one-entry tar whose entry name is chosen freely (tar libraries refuse to write a `../` name). */
function tarWithEntry(name: string, content: string): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${Buffer.byteLength(content).toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const body = Buffer.alloc(Math.ceil(Buffer.byteLength(content) / 512) * 512);
  body.write(content);
  return Buffer.concat([header, body, Buffer.alloc(1024)]);
}

/**
 * A release nobody has seen: a small kubeflow/manifests-like tree (a branch), with a known controller at a known
 * version (its compiled-in images), a known one at an unknown version, a Go template with a literal image, spawner
 * short names, and a workload of no known component.
 */
const deployment = (namespace: string, name: string, container: string) => deploymentYaml(namespace, name, `      - ${container}\n`);

const SMALL_RELEASE: Record<string, string> = {
  'example/kustomization.yaml': 'resources: [../apps]\n',
  'apps/kustomization.yaml': 'resources: [training.yaml, cert-manager.yaml, config.yaml, thing.yaml]\n',
  'apps/training.yaml': deployment('kubeflow', 'training-operator', '{name: training-operator, image: "ghcr.io/kubeflow/training-v1/training-operator:v1-3f15cb8", command: [/manager]}'),
  'apps/cert-manager.yaml': deployment('cert-manager', 'cert-manager', '{name: controller, image: "quay.io/jetstack/cert-manager-controller:v1.99.0"}'),
  'apps/config.yaml': `apiVersion: v1
kind: ConfigMap
metadata: {name: injector, namespace: mesh}
data:
  config: |
    defaultTemplates: [main]
    templates:
      main: |
        {{- if .Values.debug }}
        containers:
        - name: helper
          image: quay.io/mesh/helper:2.0
        {{- end }}
  spawner_ui_config.yaml: |
    spawnerFormDefaults:
      image:
        value: kubeflownotebookswg/jupyter-scipy:v1.8.0
        options: [kubeflownotebookswg/jupyter-scipy:v1.8.0, kubeflownotebookswg/rstudio-tidyverse:v1.8.0]
`,
  'apps/thing.yaml': deployment('kubeflow', 'thing', '{name: thing, image: "ghcr.io/acme/thing:v1"}'),
};

test.before(async (context) => {
  context.work = await makeTempDir();
  const evil = join(context.work.path, 'evil.tar.gz');
  await writeFile(evil, gzipSync(tarWithEntry('../escaped.txt', 'gotcha')));
  const tree = join(context.work.path, 'small');
  for (const [path, text] of Object.entries(SMALL_RELEASE)) {
    await mkdir(join(tree, 'manifests-v1.12-branch', path, '..'), { recursive: true });
    await writeFile(join(tree, 'manifests-v1.12-branch', path), text);
  }
  const small = join(context.work.path, 'small.tar.gz');
  await createTar({ gzip: true, cwd: tree, file: small, portable: true }, ['manifests-v1.12-branch']);
  context.server = await serveFiles({
    '/kubeflow/manifests/archive/refs/tags/v1.10.2.tar.gz': join(KUBEFLOW_FIXTURES, 'v1.10.2/manifests-v1.10.2.tar.gz'),
    '/kubeflow/manifests/archive/refs/tags/evil.tar.gz': evil,
    // The same release under a tag no spec is shipped for: what a release this kfbundle has not seen looks like.
    '/kubeflow/manifests/archive/refs/tags/v1.10.99.tar.gz': join(KUBEFLOW_FIXTURES, 'v1.10.2/manifests-v1.10.2.tar.gz'),
    '/kubeflow/manifests/archive/refs/tags/v1.12-branch.tar.gz': small,
  });
});

test.after(async (context) => {
  await context.server?.close();
  await context.work?.remove();
});

test('the release archive is downloaded, unpacked and rendered exactly as upstream renders it', async ({ server }) => {
  const spec = parseBundleSpec(await readFile(join(REPO_ROOT, 'bundle-spec/v1.10.2.yaml'), 'utf8'), 'v1.10.2.yaml');
  const rendered = await new ReleaseManifestSource({ spec, urlTemplate: server.url + TEMPLATE_PATH }).render();
  assert.is(rendered.kind, 'release');
  assert.ok(rendered.text === (await readFile(renderedPath('v1.10.2'), 'utf8')), 'render equals the shipped rendered.yaml');
  assert.ok(server.requests.includes('/kubeflow/manifests/archive/refs/tags/v1.10.2.tar.gz'));
});

test('kfbundle images --release lists the release images from the download', async ({ server }) => {
  const result = await runKfbundle(['images', '--release', 'v1.10.2', '--release-url', server.url + TEMPLATE_PATH, '--json']);
  assert.is(result.code, 0, result.stderr);
  const output = JSON.parse(result.stdout) as { images: { tier: string; included: boolean }[] };
  // 96 found in the manifests (Istio's grpc-simple busybox among them), and five from the component table:
  // training-operator's alpine:3.10 and kubectl-delivery (runtime); the PVC viewer's filebrowser:latest and KFP's
  // two TensorBoard images (conditional).
  assert.is(output.images.length, 101);
  assert.is(output.images.filter((i) => i.included).length, 51 + 21 + 2);
});

test('a release with no curated spec is not refused: tiers install and runtime and the component table, said once', async ({ server }) => {
  const result = await runKfbundle(['images', '--release', 'v1.10.99', '--release-url', server.url + TEMPLATE_PATH, '--json']);
  assert.is(result.code, 0, result.stderr);
  assert.is(result.stderr.split('no curated bundle spec for release v1.10.99').length - 1, 1, result.stderr);
  const output = JSON.parse(result.stdout) as { tiers: string[]; images: { ref: string; included: boolean }[] };
  assert.equal(output.tiers, ['install', 'runtime']);
  // The compiled-in images come from the component table, not the spec: the same 101 as the curated release.
  assert.is(output.images.length, 101);
  assert.ok(output.images.some((image) => image.ref === 'ghcr.io/kubeflow/kfp-api-server:2.5.0' && image.included));
  assert.ok(output.images.some((image) => image.ref === 'docker.io/library/alpine:3.10' && image.included));
});

test('a branch nobody curated: compiled-in images of known components, short names, a template literal; the unknown said', async ({ server }) => {
  const args = ['images', '--release', 'v1.12-branch', '--release-url', server.url + TEMPLATE_PATH, '--tiers', 'all'];
  const json = await runKfbundle([...args, '--json']);
  assert.is(json.code, 0, json.stderr);
  assert.is(json.stderr.split('no curated bundle spec for release v1.12-branch').length - 1, 1, json.stderr);
  const output = JSON.parse(json.stdout) as {
    images: { ref: string; tier: string; locations: { object: string; via: string }[] }[];
    warnings: { object: string; message: string }[];
    components: { recognised: { name: string; versions: string[]; known: boolean }[]; unrecognised: string[] };
  };
  const byRef = new Map(output.images.map((image) => [image.ref, image]));
  const via = (ref: string) => byRef.get(ref)?.locations.map((l) => l.via);
  assert.equal(
    [...byRef.keys()].sort(),
    [
      'docker.io/kubeflownotebookswg/jupyter-scipy:v1.8.0',
      'docker.io/kubeflownotebookswg/rstudio-tidyverse:v1.8.0',
      'docker.io/library/alpine:3.10',
      'ghcr.io/acme/thing:v1',
      'ghcr.io/kubeflow/training-v1/kubectl-delivery:latest',
      'ghcr.io/kubeflow/training-v1/training-operator:v1-3f15cb8',
      'quay.io/jetstack/cert-manager-controller:v1.99.0',
      'quay.io/mesh/helper:2.0',
    ],
  );
  assert.equal(via('docker.io/library/alpine:3.10'), ['compiled-in']);
  assert.equal(via('quay.io/mesh/helper:2.0'), ['template']);
  assert.is(byRef.get('docker.io/library/alpine:3.10')!.tier, 'runtime');
  // cert-manager is known, v1.99.0 is not: said, naming the object.
  assert.equal(output.warnings.map((w) => w.object), ['Deployment/cert-manager/cert-manager']);
  assert.match(output.warnings[0]!.message, /^cert-manager at v1\.99\.0 is not in the component table/);
  assert.equal(output.components.unrecognised, ['ghcr.io/acme/thing']);
  assert.equal(output.components.recognised.map((c) => `${c.name} ${c.versions.join(',')} ${c.known}`), ['Training Operator v1 v1-3f15cb8 true', 'cert-manager v1.99.0 false']);

  const text = await runKfbundle(args);
  assert.is(text.code, 0, text.stderr);
  assert.match(text.stderr, 'note: components recognised (compiled-in images included): Training Operator v1 v1-3f15cb8');
  assert.match(text.stderr, 'note: images of no component the table knows (any compiled-in images they pull are not included): ghcr.io/acme/thing');
});

test('a missing release is an error naming the URL', async ({ server }) => {
  const result = await runKfbundle(['images', '--release', 'v1.10.2', '--release-url', `${server.url}/nowhere/{ref}.tar.gz`]);
  assert.is(result.code, 3);
  assert.match(result.stderr, `download of ${server.url}/nowhere/v1.10.2.tar.gz failed: HTTP 404`);
});

test('an archive entry that would land outside the target directory is refused before anything is written', async ({ server, work }) => {
  const spec = parseBundleSpec('formatVersion: 1\nrelease: evil\nsource: {repository: kubeflow/manifests, ref: evil}\n', 'evil.yaml');
  const error = await new ReleaseManifestSource({ spec, urlTemplate: server.url + TEMPLATE_PATH }).render().catch((e: unknown) => e);
  assert.instance(error, KfbundleError);
  assert.match((error as Error).message, 'entry "../escaped.txt": path leaves the archive');

  const target = join(work.path, 'target');
  await mkdir(target);
  const direct = await extractArchiveSafely(join(work.path, 'evil.tar.gz'), target).catch((e: unknown) => e);
  assert.instance(direct, KfbundleError);
  assert.equal(await readdir(target), []);
  assert.not.ok((await readdir(work.path)).includes('escaped.txt'), 'nothing was written beside the target');
});

test('unsafe entry rules', () => {
  assert.is(unsafeEntryReason('manifests/example/kustomization.yaml', 'File', undefined), undefined);
  assert.is(unsafeEntryReason('/etc/passwd', 'File', undefined), 'absolute path');
  assert.is(unsafeEntryReason('a/../../x', 'File', undefined), 'path leaves the archive');
  assert.is(unsafeEntryReason('a/link', 'SymbolicLink', '../../etc'), 'link that points outside the archive');
  assert.is(unsafeEntryReason('a/link', 'SymbolicLink', '../b'), undefined);
  assert.is(unsafeEntryReason('dev', 'CharacterDevice', undefined), 'entry type CharacterDevice');
});

test.run();
