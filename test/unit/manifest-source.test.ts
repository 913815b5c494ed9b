// --manifests as a kustomization directory: the real v1.10.2 source tree renders to exactly the shipped rendered.yaml.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { extract } from 'tar';
import { LocalManifestSource } from '../../src/io/manifest-source.js';
import { KfbundleError } from '../../src/core/errors.js';
import { KUBEFLOW_FIXTURES, renderedPath } from '../helpers/fixtures.js';
import { makeTempDir } from '../helpers/tmp.js';

const test = suite('manifest sources');

test('a kustomization directory is rendered with kustomize (kubectl kustomize here) exactly as upstream renders it', async () => {
  const dir = await makeTempDir();
  try {
    await extract({ file: join(KUBEFLOW_FIXTURES, 'v1.10.2/manifests-v1.10.2.tar.gz'), cwd: dir.path });
    const rendered = await new LocalManifestSource().render(join(dir.path, 'manifests-v1.10.2/example'));
    assert.is(rendered.kind, 'kustomize');
    assert.is(rendered.description, 'kustomize build example');
    assert.ok(rendered.text === (await readFile(renderedPath('v1.10.2'), 'utf8')), 'render equals the shipped rendered.yaml');
  } finally {
    await dir.remove();
  }
});

test('a directory without a kustomization, and a failing kustomization, are reported by name', async () => {
  const dir = await makeTempDir();
  try {
    const source = new LocalManifestSource();
    const empty = await source.render(dir.path).catch((e: unknown) => e);
    assert.is((empty as KfbundleError).code, 'INPUT_NOT_FOUND');
    assert.match((empty as Error).message, 'without a kustomization.yaml');

    await writeFile(join(dir.path, 'kustomization.yaml'), 'resources:\n- missing.yaml\n');
    const broken = await source.render(dir.path).catch((e: unknown) => e);
    assert.is((broken as KfbundleError).code, 'KUSTOMIZE_FAILED');
    assert.match((broken as Error).message, 'missing.yaml');
  } finally {
    await dir.remove();
  }
});

test.run();
