// The real kubectl is the judge of what a manifest's scalars mean. `kubectl label --local -f FILE -o json` parses the
// file as kubectl parses every manifest and prints the object as JSON, with no API server: kubectl's reading of each
// scalar is compared with kfbundle's, and an object kfbundle read, edited and wrote back must read to kubectl as the
// original did.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { QUICK_MS, runCommand } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tmp.js';
import { objectTexts, parseManifestDocuments, type KubernetesObject } from '../../src/core/k8s-object.js';
import { KUBECTL_SCALARS } from '../../src/core/kube-yaml.js';

const test = suite<{ dir: { path: string; remove(): Promise<void> } }>('YAML as kubectl reads it');

// The table's words (`.inf` and `.nan` apart: no JSON holds them), near misses of them, and numbers at the edges of
// Go's parsers: prefixes, underscores, exponents, int64 and uint64 bounds, overflow.
const WORDS = KUBECTL_SCALARS.flatMap((rule) => (rule.forms instanceof RegExp ? [] : rule.forms)).filter((word) => !/inf|nan/i.test(word));
const NEAR_MISSES = ['oN', 'yES', 'nULL', 'tRUE', 'Nope', '+.nan', '-.nan', 'Infinity', '+Inf', 'NaN', '=', '+', '.', '1:20', '1:20.5', '12:30:45'];
const DATES = ['2024-01-02', '2024-1-2', '2024-01-02T10:00:00Z', '2001-12-14t21:59:43.10-05:00', '2001-12-14 21:59:43.10', '2024-02-30'];
// prettier-ignore
const NUMBERS = [
  '0777', '0o17', '0O17', '0x1F', '0X1F', '0xfF', '0b101', '0B101', '-0b101', '+0b101', '+0x1F', '-0x1F', '-0o17', '0789',
  '08', '00', '0', '-0', '+0', '007', '0_7', '1_000', '1__0', '1_', '_1', '0_x1F', '0x_1F', '+_1', '+_0x_1', '0x_', '0x',
  '0b', '0o', '0B2', '0o8', '1e3', '1E3', '1e+3', '1e-3', '1e03', '1e_3', '1.5e3', '1.', '5.e3', '.5', '.5e3', '.5_5',
  '.5__5', '.5_e3', '.5e3_0', '._5', '.e3', '+.5', '-.5', '1_0.5', '1.5_0', '1._5', '12.5', '012.5', '1.0', '-0.0', '0.1',
  '0.5e-3', '1e20', '1e21', '1e400', '-1e400', '.5e400', '9007199254740993', '9223372036854775807', '9223372036854775808',
  '18446744073709551615', '18446744073709551616', '-9223372036854775808', '-9223372036854775809', '0xFFFFFFFFFFFFFFFF',
  '+0xFFFFFFFFFFFFFFFF', '0x1FFFFFFFFFFFFFFFF', '-0x8000000000000000', '-0x8000000000000001', '0777777777777777777777777',
  '99999999999999999999999', '1.5.5', '1e3e3', '++1', '+-1', '1-2', '1e', '1.5e', '0x1p-2', '1,000',
];
const SCALARS = [...WORDS, ...NEAR_MISSES, ...DATES, ...NUMBERS];
// As keys, each in a mapping of its own (`on` and `yes` are the same key to kubectl). Not null (kubectl refuses a
// null key), nor an integer beyond int64 or a float whose float32 form differs (kubectl names those differently).
const KEYS = ['on', 'yes', 'Off', 'n', 'y', 'true', '0777', '0x1F', '0o17', '1e3', '1_000', '.5', '12.5', '-0b101', '2024-01-02', '2001-12-14t21:59:43.10-05:00', 'oN', '1:20'];

function probeDocument(): string {
  const plain = SCALARS.map((text, i) => `    f${i}: ${text}`.trimEnd());
  const quoted = SCALARS.map((text, i) => `    f${i}: "${text}"`);
  const keys = KEYS.flatMap((text, i) => [`  - ${text}: plain${i}`, `  - "${text}": quoted${i}`]);
  return ['apiVersion: kfbundle.test/v1', 'kind: ScalarProbe', 'metadata:', '  name: scalars', 'spec:', '  plain:', ...plain, '  quoted:', ...quoted, 'keys:', ...keys, ''].join(
    '\n',
  );
}

/** kubectl's JSON with every number as its text, `{number: "511"}`, so that integers beyond 2^53 compare exactly. */
function parseKeepingNumbers(json: string): unknown {
  return JSON.parse(json.replace(/"(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*/g, (token) => (token[0] === '"' ? token : JSON.stringify({ number: token }))));
}

/** What kubectl makes of a manifest file, parsed without an API server. */
async function kubectlReads(file: string, dir: string): Promise<{ code: number | null; object: any; stderr: string }> {
  const result = await runCommand('kubectl', ['label', '--local', '-f', file, 'probe=read', '-o', 'json'], {
    env: { KUBECONFIG: join(dir, 'no-cluster') },
    timeoutMs: QUICK_MS,
  });
  return { code: result.code, object: result.code === 0 ? parseKeepingNumbers(result.stdout) : undefined, stderr: result.stderr };
}

/** The one object of a file, read by kfbundle, with a label added: an edit elsewhere in the object. */
function readAndEdit(text: string): { original: KubernetesObject; written: string } {
  const documents = parseManifestDocuments(text, 'probe.yaml');
  const original = documents[0]!.objects[0]!;
  const edited = structuredClone(original);
  edited.metadata!['labels'] = { edited: 'yes' };
  return { original, written: objectTexts(documents, [edited])[0]! };
}

test.before(async (context) => {
  context.dir = await makeTempDir('kfb-yaml-kubectl-');
});

test.after(async (context) => {
  await context.dir?.remove();
});

test('kfbundle reads every scalar as kubectl does, as a value and as a key', async ({ dir }) => {
  const text = probeDocument();
  await writeFile(join(dir.path, 'original.yaml'), text);
  const kubectl = await kubectlReads(join(dir.path, 'original.yaml'), dir.path);
  assert.is(kubectl.code, 0, kubectl.stderr);
  const ours = readAndEdit(text).original as any;
  const comparable = (value: unknown) => (typeof value === 'number' || typeof value === 'bigint' ? { number: String(value) } : value);
  SCALARS.forEach((scalar, i) => {
    assert.equal(comparable(ours.spec.plain[`f${i}`]), kubectl.object.spec.plain[`f${i}`], `plain ${scalar}`);
    assert.equal(ours.spec.quoted[`f${i}`], scalar, `quoted ${scalar}`);
    assert.equal(kubectl.object.spec.quoted[`f${i}`], scalar, `quoted ${scalar} (kubectl)`);
  });
  assert.equal(ours.keys, kubectl.object.keys);
  assert.ok(kubectl.object.keys.some((entry: Record<string, string>) => entry['true'] === 'plain0'), 'kubectl names the key `on` "true"');
});

test('an object kfbundle read, edited and wrote back reads to kubectl as the original did', async ({ dir }) => {
  const text = probeDocument();
  const { written } = readAndEdit(text);
  await writeFile(join(dir.path, 'original.yaml'), text);
  await writeFile(join(dir.path, 'written.yaml'), written);
  const before = await kubectlReads(join(dir.path, 'original.yaml'), dir.path);
  const after = await kubectlReads(join(dir.path, 'written.yaml'), dir.path);
  assert.is(before.code, 0, before.stderr);
  assert.is(after.code, 0, after.stderr);
  assert.is(after.object.metadata.labels.edited, 'yes');
  delete after.object.metadata.labels.edited;
  assert.equal(after.object, before.object);
  // The edit really rewrote the object, rather than keeping its text.
  assert.is.not(written, text);
  assert.match(written, /edited: "yes"/);
});

test('infinities, which kubectl refuses, are written back so that it refuses them again', async ({ dir }) => {
  const text = 'apiVersion: kfbundle.test/v1\nkind: ScalarProbe\nmetadata:\n  name: infinite\nspec:\n  big: .inf\n  quoted: ".inf"\n';
  await writeFile(join(dir.path, 'infinite.yaml'), text);
  await writeFile(join(dir.path, 'infinite-written.yaml'), readAndEdit(text).written);
  for (const file of ['infinite.yaml', 'infinite-written.yaml']) {
    const result = await kubectlReads(join(dir.path, file), dir.path);
    assert.is.not(result.code, 0, file);
    assert.match(result.stderr, 'unsupported value: +Inf', file);
  }
});

test.run();
