// Real helper programs (small shell scripts put on PATH in a temporary directory) and real Docker config files.

import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isRegistryError } from '../../src/core/registry-error.js';
import { runCredentialHelper } from '../../src/io/credential-helper.js';
import { dockerConfigCredentials } from '../../src/io/registry-credentials.js';
import { makeTempDir } from '../helpers/tmp.js';

const test = suite('registry credential helpers');

// Answers for 127.0.0.1:5000 and Docker Hub; records what it was asked on stdin.
const HELPER = `#!/bin/sh
[ "$1" = get ] || exit 3
read -r server
printf '%s\\n' "$server" >> "$(dirname "$0")/asked"
case "$server" in
  127.0.0.1:5000) printf '{"ServerURL":"%s","Username":"alice","Secret":"s3cret"}' "$server" ;;
  https://index.docker.io/v1/) printf '{"ServerURL":"%s","Username":"<token>","Secret":"refresh-1"}' "$server" ;;
  broken) echo 'keychain locked' >&2; exit 2 ;;
  *) echo 'credentials not found in native keychain'; exit 1 ;;
esac
`;

async function withHelpers<T>(body: (env: NodeJS.ProcessEnv, dir: string) => Promise<T>): Promise<T> {
  const dir = await makeTempDir();
  try {
    const bin = join(dir.path, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'docker-credential-test'), HELPER);
    await writeFile(join(bin, 'docker-credential-slow'), '#!/bin/sh\nsleep 30\n');
    await writeFile(join(bin, 'docker-credential-garbled'), '#!/bin/sh\necho "<html>"\n');
    for (const name of ['test', 'slow', 'garbled']) await chmod(join(bin, `docker-credential-${name}`), 0o755);
    return await body({ ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}`, DOCKER_CONFIG: join(dir.path, 'docker') }, dir.path);
  } finally {
    await dir.remove();
  }
}

test('a helper answers with credentials, an identity token, or not found', async () => {
  await withHelpers(async (env, dir) => {
    assert.equal(await runCredentialHelper('test', '127.0.0.1:5000', { env }), {
      kind: 'found',
      credentials: { username: 'alice', password: 's3cret', serveraddress: '127.0.0.1:5000' },
    });
    assert.equal(await runCredentialHelper('test', 'https://index.docker.io/v1/', { env }), {
      kind: 'found',
      credentials: { identitytoken: 'refresh-1', serveraddress: 'https://index.docker.io/v1/' },
    });
    assert.equal(await runCredentialHelper('test', 'quay.io', { env }), { kind: 'not-found' });
    assert.equal(await runCredentialHelper('absent', 'quay.io', { env }), { kind: 'missing' });
    assert.equal((await readFile(join(dir, 'bin', 'asked'), 'utf8')).split('\n'), ['127.0.0.1:5000', 'https://index.docker.io/v1/', 'quay.io', '']);
  });
});

test('a failing, garbled or hanging helper is a denied fault naming it; the hanging one is killed in time', async () => {
  await withHelpers(async (env) => {
    const cases: [string, string, RegExp][] = [
      ['test', 'broken', /docker-credential-test get for broken failed \(exit 2\): keychain locked/],
      ['garbled', 'x', /docker-credential-garbled get for x answered without a username and secret/],
      ['slow', 'x', /docker-credential-slow get for x did not answer within 300 ms/],
    ];
    for (const [helper, server, message] of cases) {
      const started = Date.now();
      try {
        await runCredentialHelper(helper, server, { env, timeoutMs: 300 });
        assert.unreachable(helper);
      } catch (error) {
        assert.ok(isRegistryError(error), String(error));
        assert.is((error as { kind: string }).kind, 'denied');
        assert.match((error as Error).message, message);
      }
      assert.ok(Date.now() - started < 5_000, `${helper} took ${Date.now() - started} ms`);
    }
  });
});

test('the Docker config lookup: credHelpers, credsStore, then auths; a missing helper means anonymous with a warning', async () => {
  await withHelpers(async (env) => {
    await mkdir(env['DOCKER_CONFIG']!);
    await writeFile(
      join(env['DOCKER_CONFIG']!, 'config.json'),
      JSON.stringify({
        auths: { 'gcr.io': { auth: Buffer.from('g:h').toString('base64') }, '127.0.0.1:6000': { auth: Buffer.from('inline:pw').toString('base64') } },
        credHelpers: { '127.0.0.1:5000': 'test', 'quay.io': 'test', 'ghcr.io': 'desktop' },
      }),
    );
    const warnings: string[] = [];
    const lookup = dockerConfigCredentials({ env, onWarning: (message) => warnings.push(message) });
    assert.equal(await lookup('127.0.0.1:5000'), { username: 'alice', password: 's3cret', serveraddress: '127.0.0.1:5000' });
    assert.is(await lookup('quay.io'), undefined);
    assert.equal(await lookup('gcr.io'), { username: 'g', password: 'h', serveraddress: 'gcr.io' });
    assert.equal(await lookup('127.0.0.1:6000'), { username: 'inline', password: 'pw', serveraddress: '127.0.0.1:6000' });
    assert.is(await lookup('ghcr.io'), undefined);
    assert.equal(warnings, ['docker-credential-desktop (named in the Docker config for ghcr.io) is not installed; pulling from ghcr.io anonymously']);
  });
});

test('no Docker config at all means anonymous everywhere', async () => {
  await withHelpers(async (env) => {
    assert.is(await dockerConfigCredentials({ env })('gcr.io'), undefined);
  });
});

test.run();
