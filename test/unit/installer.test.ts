// The generated installer is valid bash, passes shellcheck, and refuses a bundle it cannot verify.

import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BUNDLE_FILES } from '../../src/core/bundle-layout.js';
import { formatChecksums } from '../../src/core/checksums.js';
import { inlineInstallerParts } from '../../src/core/installer-parts.js';
import { installerValuesFor, renderInstaller } from '../../src/core/installer-script.js';
import { readInstallerTemplate } from '../../src/version.js';
import { runCommand } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tmp.js';
import { createHash } from 'node:crypto';

const test = suite('installer');

async function render(): Promise<string> {
  return renderInstaller(await readInstallerTemplate(), installerValuesFor('0.0.0-test', undefined));
}

test('every placeholder is filled', async () => {
  const script = await render();
  assert.not.match(script, /@@[A-Z_]+@@/);
  assert.match(script, "IMAGE_ARCHIVES='images/archives.txt'");
  assert.throws(() => renderInstaller('@@NOPE@@', installerValuesFor('', undefined)), /NOPE/);
});

test('the parts installer/install.sh includes are inlined once each; a part that is not there is a packaging error', async () => {
  const script = await render();
  assert.not.match(script, /@@include/);
  for (const defined of ['http_push_images() {', 'seed_registry() {']) assert.is(script.split(defined).length, 2, `${defined} once`);
  assert.throws(() => inlineInstallerParts('a\n# @@include nowhere.sh@@\nb\n', {}), /nowhere\.sh/);
  assert.is(inlineInstallerParts('a\n# @@include part.sh@@\nb\n', { 'part.sh': '#!/usr/bin/env bash\nx\n' }), 'a\nx\nb\n');
});

test('a value with a quote stays text in the installer: a base release named after a file like team\'s.yaml', async () => {
  const values = installerValuesFor('0.0.0-test', undefined, undefined, { base: "release team's.yaml (bundle 0123456789ab)" });
  const script = renderInstaller("BASE_BUNDLE='@@BASE_BUNDLE@@'\nprintf '%s' \"$BASE_BUNDLE\"\n", values);
  const run = await runCommand('bash', ['-c', script]);
  assert.is(run.code, 0, run.stderr);
  assert.is(run.stdout, "release team's.yaml (bundle 0123456789ab)");
});

test('passes bash -n and shellcheck', async () => {
  const dir = await makeTempDir();
  try {
    const path = join(dir.path, 'install.sh');
    await writeFile(path, await render());
    const syntax = await runCommand('bash', ['-n', path]);
    assert.is(syntax.code, 0, syntax.stderr);
    const lint = await runCommand('shellcheck', ['--severity=warning', path]);
    assert.is(lint.code, 0, lint.stdout + lint.stderr);
  } finally {
    await dir.remove();
  }
});

test('refuses SHA256SUMS entries that leave the bundle, before reading anything else', async () => {
  const dir = await makeTempDir();
  try {
    const path = join(dir.path, 'install.sh');
    await writeFile(path, await render());
    await chmod(path, 0o755);
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    await writeFile(join(dir.path, 'SHA256SUMS'), `${sha('x')}  ../outside\n`);
    const result = await runCommand('bash', [path, '--verify-only']);
    assert.is.not(result.code, 0);
    assert.match(result.stderr, 'unsafe path: ../outside');

    await mkdir(join(dir.path, 'manifests'));
    await writeFile(join(dir.path, 'manifests/00-all.yaml'), 'kind: Namespace\n');
    const script = await render();
    await writeFile(
      join(dir.path, 'SHA256SUMS'),
      formatChecksums([
        { path: 'install.sh', sha256: sha(script) },
        { path: 'manifests/00-all.yaml', sha256: sha('kind: Namespace\n') },
      ]),
    );
    const ok = await runCommand('bash', [path, '--verify-only']);
    assert.is(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, 'bundle verified');
  } finally {
    await dir.remove();
  }
});

test('--dry-run prints every phase and its waits, in order, and touches nothing', async () => {
  const dir = await makeTempDir();
  try {
    const path = join(dir.path, 'install.sh');
    await writeFile(path, await render());
    await mkdir(join(dir.path, 'manifests'));
    await writeFile(join(dir.path, 'manifests/00-crds.yaml'), 'kind: CustomResourceDefinition\nmetadata: {name: a.example.com}\n');
    await writeFile(join(dir.path, 'manifests/00-crds.waits'), 'established\t-\ta.example.com\n');
    await writeFile(join(dir.path, 'manifests/01-cert-manager.yaml'), 'kind: Deployment\n---\nkind: Service\n');
    await writeFile(join(dir.path, 'manifests/01-cert-manager.waits'), 'available\tcert-manager\tcert-manager-webhook\nendpoints\tcert-manager\tcert-manager-webhook\n');
    const result = await runCommand('bash', [path, '--dry-run'], { env: { PATH: '/usr/bin:/bin' } });
    assert.is(result.code, 0, result.stderr);
    const [targets, header, ...lines] = result.stdout.trim().split('\n');
    assert.is(targets, "kfbundle install: images: loaded into the node's runtime (--runtime auto); manifests from manifests/");
    assert.match(header!, 'plan (bundle not verified by --dry-run');
    assert.equal(lines, [
      '  phase 00-crds: 1 objects from manifests/00-crds.yaml',
      '    then wait: CRD a.example.com Established',
      '  phase 01-cert-manager: 2 objects from manifests/01-cert-manager.yaml',
      '    then wait: deployment cert-manager/cert-manager-webhook Available',
      '    then wait: service cert-manager/cert-manager-webhook has ready endpoints',
    ]);
    const bad = await runCommand('bash', [path, '--from-phase', 'three']);
    assert.is.not(bad.code, 0);
    assert.match(bad.stderr, "--from-phase needs a whole number, got 'three'");
  } finally {
    await dir.remove();
  }
});

test('--help explains the options and exits 0', async () => {
  const dir = await makeTempDir();
  try {
    const path = join(dir.path, 'install.sh');
    await writeFile(path, await render());
    const help = await runCommand('bash', [path, '--help']);
    assert.is(help.code, 0);
    assert.match(help.stdout, '--images-only');
    const bad = await runCommand('bash', [path, '--bogus']);
    assert.is.not(bad.code, 0);
    assert.match(bad.stderr, 'unknown option: --bogus');
  } finally {
    await dir.remove();
  }
});

test('--push-with and --registry-ca are checked before anything runs', async () => {
  const dir = await makeTempDir();
  try {
    const path = join(dir.path, 'install.sh');
    await writeFile(path, await render());
    const ca = join(dir.path, 'ca.pem');
    await writeFile(ca, 'not read before the push\n');
    const cases: [string[], string][] = [
      [['--push-with', 'scp', '--registry', 'harbor.example.cn'], "--push-with needs auto, http, ctr or docker, got 'scp'"],
      [['--push-with', 'http'], '--push-with is for pushes to a registry: give --registry too'],
      [['--registry-ca', join(dir.path, 'missing.pem'), '--registry', 'harbor.example.cn'], `CA certificate not found: ${join(dir.path, 'missing.pem')}`],
      [['--registry-ca', ca, '--registry-plain-http', '--registry', 'harbor.example.cn'], '--registry-ca is for a registry served over HTTPS, --registry-plain-http for one that is not'],
    ];
    for (const [args, message] of cases) {
      const result = await runCommand('bash', [path, ...args]);
      assert.is(result.code, 1, args.join(' '));
      assert.match(result.stderr, message);
      assert.not.match(result.stdout, 'verifying', 'refused before verifying');
    }
    const help = await runCommand('bash', [path, '--help']);
    assert.match(help.stdout, '--push-with HOW');
    assert.match(help.stdout, '--registry-ca FILE');
  } finally {
    await dir.remove();
  }
});

test.run();
