// Reading what the engine and the Docker client config say: in-band pull errors, and registry credentials.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { credentialsFor } from '../../src/core/docker-auth.js';
import { PullStatusSink } from '../../src/io/pull-progress-parser.js';

const test = suite('engine protocol');

async function sinkOf(chunks: string[]): Promise<{ sink: PullStatusSink; lines: number }> {
  let lines = 0;
  const sink = new PullStatusSink(() => lines++);
  await pipeline(Readable.from(chunks.map((c) => Buffer.from(c))), sink);
  return { sink, lines };
}

test('an in-band error after a 200 response is caught, even split across chunks', async () => {
  const { sink, lines } = await sinkOf([
    '{"status":"Pulling from x","id":"1"}\n{"status":"Downloading","progressDetail":{"current":5,"tot',
    'al":10},"id":"a"}\n{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}\n',
  ]);
  assert.is(sink.error, 'manifest unknown');
  assert.is(lines, 3);
});

test('a clean stream has no error, and a final line without newline is still read', async () => {
  assert.is((await sinkOf(['{"status":"ok"}\n', '{"status":"Digest: sha256:abc"}'])).sink.error, undefined);
  assert.is((await sinkOf(['{"status":"x"}\n{"error":"boom"}'])).sink.error, 'boom');
  assert.match((await sinkOf(['not json\n'])).sink.error ?? '', 'unreadable progress line');
});

test('credentials are chosen by registry host, Docker Hub under its legacy key', () => {
  const basic = (user: string, pass: string) => Buffer.from(`${user}:${pass}`).toString('base64');
  const config = {
    auths: {
      'https://index.docker.io/v1/': { auth: basic('hub', 'p1') },
      'registry.example.cn:5000': { auth: basic('harbor', 'p:2') },
      'https://ghcr.io': { identitytoken: 'tok' },
    },
  };
  assert.equal(credentialsFor(config, 'docker.io'), { username: 'hub', password: 'p1', serveraddress: 'https://index.docker.io/v1/' });
  assert.equal(credentialsFor(config, 'registry.example.cn:5000'), { username: 'harbor', password: 'p:2', serveraddress: 'registry.example.cn:5000' });
  assert.equal(credentialsFor(config, 'ghcr.io'), { identitytoken: 'tok', serveraddress: 'ghcr.io' });
  assert.is(credentialsFor(config, 'quay.io'), undefined);
  assert.is(credentialsFor(undefined, 'quay.io'), undefined);
});

test.run();
