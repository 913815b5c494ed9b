import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatImageRef, parseImageRef } from '../../src/core/image-ref.js';
import { mirrorCandidates, mirrorRef, parseMirror } from '../../src/core/mirrors.js';

const test = suite('registry mirrors');
const mirrored = (raw: string, specs: string[]) => formatImageRef(mirrorRef(parseImageRef(raw), specs.flatMap(parseMirror)));

test('maps a registry onto a mirror path, keeping tag and digest', () => {
  const mirrors = ['gcr.io=127.0.0.1:5000/gcr.io'];
  assert.is(mirrored('gcr.io/ml-pipeline/mysql:8.0.26', mirrors), '127.0.0.1:5000/gcr.io/ml-pipeline/mysql:8.0.26');
  const digest = 'sha256:698ef80ebc698f4d2bb93c1e85684063a0cf253a83faebcbf106cee444181d8e';
  assert.is(mirrored(`gcr.io/a/b@${digest}`, mirrors), `127.0.0.1:5000/gcr.io/a/b@${digest}`);
});

test('docker.io short names come from DST/library/…', () => {
  assert.is(mirrored('mysql:8.0', ['docker.io=127.0.0.1:5000/docker.io']), '127.0.0.1:5000/docker.io/library/mysql:8.0');
  assert.is(mirrored('mysql:8.0', ['docker.io=docker.m.daocloud.io']), 'docker.m.daocloud.io/library/mysql:8.0');
  assert.is(mirrored('mysql:8.0', ['index.docker.io=mirror.local/hub']), 'mirror.local/hub/library/mysql:8.0');
});

test('images of other registries, and lookalike prefixes, are not mirrored', () => {
  assert.is(mirrored('quay.io/jetstack/x:v1', ['gcr.io=m.local/gcr']), 'quay.io/jetstack/x:v1');
  assert.is(mirrored('gcr.io.evil/x:v1', ['gcr.io=m.local/gcr']), 'gcr.io.evil/x:v1');
});

test('the longest matching prefix wins', () => {
  const mirrors = ['ghcr.io=m.local/ghcr', 'ghcr.io/kubeflow=m.local/kubeflow'];
  assert.is(mirrored('ghcr.io/kubeflow/kfp-api-server:2.5.0', mirrors), 'm.local/kubeflow/kfp-api-server:2.5.0');
  assert.is(mirrored('ghcr.io/dexidp/dex:v2.41.1', mirrors), 'm.local/ghcr/dexidp/dex:v2.41.1');
});

test('a chain SRC=A,B tries A, then B, then the origin; repeated --mirror for one source chains the same way', () => {
  const chain = (raw: string, specs: string[]) => mirrorCandidates(parseImageRef(raw), specs.flatMap(parseMirror)).map(formatImageRef);
  const expected = ['gcr.m.daocloud.io/ml-pipeline/mysql:8.0.26', 'my.mirror/gcr/ml-pipeline/mysql:8.0.26', 'gcr.io/ml-pipeline/mysql:8.0.26'];
  assert.equal(chain('gcr.io/ml-pipeline/mysql:8.0.26', ['gcr.io=gcr.m.daocloud.io,my.mirror/gcr']), expected);
  assert.equal(chain('gcr.io/ml-pipeline/mysql:8.0.26', ['gcr.io=gcr.m.daocloud.io', 'quay.io=q.local', 'gcr.io=my.mirror/gcr']), expected);
  assert.equal(chain('quay.io/x/y:1', ['gcr.io=gcr.m.daocloud.io']), ['quay.io/x/y:1'], 'no mirror: the origin alone');
});

test('malformed mirrors are refused with the argument named', () => {
  for (const bad of ['gcr.io', '=x', 'gcr.io=', 'gcr.io=a=b', 'gcr.io=Not A Host', 'gcr.io=a,,b', 'gcr.io=a,']) {
    assert.throws(() => parseMirror(bad), (error: Error) => error.message.includes(`"${bad}"`));
  }
});

test.run();
