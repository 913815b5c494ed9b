// Signed bundles: keygen, sign, verify --key and install.sh --key (openssl, no Node) accept the builders' key and
// refuse another key, an unsigned bundle when a key is given, and a changed SHA256SUMS.

import { appendFile, cp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { signBytes } from '../../src/io/bundle-signature.js';
import { runCommand, runKfbundle } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tmp.js';
import { buildWithFakeStore } from '../helpers/fake-build.js';

const test = suite<{ dir: { path: string; remove(): Promise<void> } }>('signatures');

test.before(async (context) => {
  context.dir = await makeTempDir();
  const input = join(context.dir.path, 'rendered.yaml');
  await writeFile(input, 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\nspec: {containers: [{name: a, image: "busybox:1.28"}]}\n');
  await buildWithFakeStore(input, join(context.dir.path, 'bundle'), { saveBytes: 50_000 });
});

test.after(async (context) => {
  await context.dir?.remove();
});

test('keygen writes a private key only its owner can read, and refuses to overwrite', async ({ dir }) => {
  const keys = ['--private', join(dir.path, 'team.key'), '--public', join(dir.path, 'team.pub')];
  assert.is((await runKfbundle(['keygen', ...keys])).code, 0);
  assert.is((await stat(join(dir.path, 'team.key'))).mode & 0o777, 0o600);
  const again = await runKfbundle(['keygen', ...keys]);
  assert.is(again.code, 7);
  assert.match(again.stderr, 'refusing to overwrite');
  assert.is((await runKfbundle(['keygen', '--private', join(dir.path, 'other.key'), '--public', join(dir.path, 'other.pub')])).code, 0);
});

test('an unsigned bundle passes verify without a key, and is refused with one, by verify and install.sh', async ({ dir }) => {
  const bundle = join(dir.path, 'bundle');
  assert.match((await runKfbundle(['verify', bundle])).stdout, '(unsigned)');
  const refused = await runKfbundle(['verify', bundle, '--key', join(dir.path, 'team.pub')]);
  assert.is(refused.code, 10);
  assert.match(refused.stderr, 'the bundle is not signed');
  const install = await runCommand('bash', [join(bundle, 'install.sh'), '--verify-only', '--key', join(dir.path, 'team.pub')]);
  assert.is.not(install.code, 0);
  assert.match(install.stderr, 'is not signed');
});

test('a signed bundle verifies with its key, in Node and with openssl, and is refused with another key', async ({ dir }) => {
  const bundle = join(dir.path, 'bundle');
  const signed = await runKfbundle(['sign', bundle, '--key', join(dir.path, 'team.key')]);
  assert.is(signed.code, 0, signed.stderr);
  const ok = await runKfbundle(['verify', bundle, '--key', join(dir.path, 'team.pub'), '--json']);
  assert.is(ok.code, 0, ok.stderr);
  assert.is(JSON.parse(ok.stdout).signature, 'verified');
  const installOk = await runCommand('bash', [join(bundle, 'install.sh'), '--verify-only', '--key', join(dir.path, 'team.pub')], { env: { PATH: '/usr/bin:/bin' } });
  assert.is(installOk.code, 0, installOk.stderr);
  assert.match(installOk.stdout, 'signature verified');

  const other = await runKfbundle(['verify', bundle, '--key', join(dir.path, 'other.pub')]);
  assert.is(other.code, 10);
  assert.match(other.stderr, 'does not verify with');
  const installOther = await runCommand('bash', [join(bundle, 'install.sh'), '--verify-only', '--key', join(dir.path, 'other.pub')]);
  assert.is.not(installOther.code, 0);
  assert.match(installOther.stderr, 'does not verify with');
});

test('a changed SHA256SUMS breaks the signature even when every listed file matches it', async ({ dir }) => {
  const copy = join(dir.path, 'tampered');
  await cp(join(dir.path, 'bundle'), copy, { recursive: true });
  // An attacker who swaps a file and rewrites SHA256SUMS and bundle.json's contentDigest to match can satisfy every
  // checksum, but cannot fix the signature.
  const { createHash } = await import('node:crypto');
  const hash = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
  const sumsPath = join(copy, 'SHA256SUMS');
  const manifest = (await readFile(sumsPath, 'utf8')).split('\n').find((l) => l.endsWith('.yaml'))!.slice(66);
  await appendFile(join(copy, manifest), '---\napiVersion: v1\nkind: Namespace\nmetadata: {name: injected}\n');
  const manifestHash = hash(await readFile(join(copy, manifest)));
  let lines = (await readFile(sumsPath, 'utf8')).split('\n').map((l) => (l.endsWith(`  ${manifest}`) ? `${manifestHash}  ${manifest}` : l));
  const metadataPath = join(copy, 'bundle.json');
  const metadata = JSON.parse(await readFile(metadataPath, 'utf8')) as { contentDigest: string };
  metadata.contentDigest = hash(lines.filter((l) => !l.endsWith('  bundle.json')).join('\n'));
  await writeFile(metadataPath, `${JSON.stringify(metadata, null, 2)}\n`);
  const metadataHash = hash(await readFile(metadataPath));
  lines = lines.map((l) => (l.endsWith('  bundle.json') ? `${metadataHash}  bundle.json` : l));
  await writeFile(sumsPath, lines.join('\n'));
  assert.is((await runKfbundle(['verify', copy])).code, 0, 'checksums alone are satisfied');
  assert.is((await runKfbundle(['verify', copy, '--key', join(dir.path, 'team.pub')])).code, 10);
  assert.is.not((await runCommand('bash', [join(copy, 'install.sh'), '--verify-only', '--key', join(dir.path, 'team.pub')])).code, 0);
  await rm(copy, { recursive: true });
});

test('signing refuses a damaged bundle, and a key that is not Ed25519', async ({ dir }) => {
  const copy = join(dir.path, 'damaged');
  await cp(join(dir.path, 'bundle'), copy, { recursive: true });
  await appendFile(join(copy, 'bundle.json'), ' ');
  const refused = await runKfbundle(['sign', copy, '--key', join(dir.path, 'team.key')]);
  assert.is(refused.code, 9);
  assert.match(refused.stderr, 'refusing to sign');
  const { generateKeyPairSync } = await import('node:crypto');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  assert.throws(() => signBytes(Buffer.from('x'), rsa, 'rsa.key'), /rsa\.key is a rsa key; kfbundle signs with Ed25519/);
});

test.run();
