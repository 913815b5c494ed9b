// `--release TAG`: the real v1.10.2 archive served from 127.0.0.1 renders to exactly the shipped rendered.yaml;
// a missing release and an archive that tries to escape its directory are refused.

import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseBundleSpec } from '../../src/core/bundle-spec.js';
import { KfbundleError } from '../../src/core/errors.js';
import { extractArchiveSafely, ReleaseManifestSource, unsafeEntryReason } from '../../src/io/release-source.js';
import { runKfbundle } from '../helpers/cli.js';
import { KUBEFLOW_FIXTURES, renderedPath } from '../helpers/fixtures.js';
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

test.before(async (context) => {
  context.work = await makeTempDir();
  const evil = join(context.work.path, 'evil.tar.gz');
  await writeFile(evil, gzipSync(tarWithEntry('../escaped.txt', 'gotcha')));
  context.server = await serveFiles({
    '/kubeflow/manifests/archive/refs/tags/v1.10.2.tar.gz': join(KUBEFLOW_FIXTURES, 'v1.10.2/manifests-v1.10.2.tar.gz'),
    '/kubeflow/manifests/archive/refs/tags/evil.tar.gz': evil,
    // The same release under a tag no spec is shipped for: what a release this kfbundle has not seen looks like.
    '/kubeflow/manifests/archive/refs/tags/v1.10.99.tar.gz': join(KUBEFLOW_FIXTURES, 'v1.10.2/manifests-v1.10.2.tar.gz'),
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
  // 95 found in the manifests, plus the spec's compiled-in alpine:3.10 (runtime).
  assert.is(output.images.length, 96);
  assert.is(output.images.filter((i) => i.included).length, 51 + 21 + 1);
});

test('a release with no curated spec is not refused: its manifests alone, with the defaults, said once', async ({ server }) => {
  const result = await runKfbundle(['images', '--release', 'v1.10.99', '--release-url', server.url + TEMPLATE_PATH, '--json']);
  assert.is(result.code, 0, result.stderr);
  assert.is(result.stderr.split('no curated bundle spec for release v1.10.99').length - 1, 1, result.stderr);
  const output = JSON.parse(result.stdout) as { tiers: string[]; images: { ref: string; included: boolean }[] };
  assert.equal(output.tiers, ['install', 'runtime']);
  // The 95 images the manifests name, and not the curated spec's compiled-in alpine:3.10.
  assert.is(output.images.length, 95);
  assert.ok(output.images.some((image) => image.ref === 'ghcr.io/kubeflow/kfp-api-server:2.5.0' && image.included));
  assert.not.ok(output.images.some((image) => image.ref === 'docker.io/library/alpine:3.10'));
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
