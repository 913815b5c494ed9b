// YAML read and written with kubectl's meaning of every scalar (go-yaml v2's rules). The expectations are kubectl's
// own readings of these scalars; test/integration/yaml-kubectl.test.ts asks the real kubectl about them.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { KfbundleError } from '../../src/core/errors.js';
import { objectTexts, parseManifestDocuments } from '../../src/core/k8s-object.js';
import { readYaml, readYamlStream, writeYaml, YamlSyntaxError } from '../../src/core/kube-yaml.js';

const test = suite('kube-yaml');

// Text as written, then the value kubectl reads (`kubectl label --local -o json` prints these).
const READINGS: [string, unknown][] = [
  ['on', true],
  ['yes', true],
  ['Off', false],
  ['oN', 'oN'],
  ['0777', 511],
  ['1e3', 1000],
  ['~', null],
  ['', null],
  ['2024-01-02', '2024-01-02'],
  ['2001-12-14t21:59:43.10-05:00', '2001-12-14t21:59:43.10-05:00'],
  ['"on"', 'on'],
  ["'yes'", 'yes'],
  ['"0777"', '0777'],
  ['"1e3"', '1e3'],
  ['"~"', '~'],
  ['0x1F', 31],
  ['1_000', 1000],
  ['0o17', 15],
  ['.5', 0.5],
  ['012.5', 12.5],
  ['0789', 789],
  ['1:20', '1:20'],
  // An int64 stays exact; a larger integer is a float to kubectl once it has passed through JSON.
  ['9007199254740993', 9007199254740993n],
  ['18446744073709551615', 18446744073709552000],
  // Out of range for Go: kubectl keeps the text.
  ['1e400', '1e400'],
  ['0x1FFFFFFFFFFFFFFFF', '0x1FFFFFFFFFFFFFFFF'],
  ['.inf', Infinity],
];

test('plain scalars mean what they mean to kubectl; quoted ones are strings', () => {
  const read = readYaml(READINGS.map(([text], i) => `field${i}: ${text}`.trimEnd()).join('\n')) as Record<string, unknown>;
  READINGS.forEach(([text, value], i) => assert.equal(read[`field${i}`], value, text));
});

test('keys are read the same way, then named as kubectl names them', () => {
  assert.equal(readYaml('on: a\n"yes": b\n0777: c\n1e3: d\n2024-01-02: e\nn: f\n'), { true: 'a', yes: 'b', 511: 'c', 1000: 'd', '2024-01-02': 'e', false: 'f' });
});

test('strings kubectl would read as something else are quoted; values are written so it reads them back', () => {
  const strings = ['on', 'Yes', 'n', '0777', '0o17', '0X1F', '0B101', '+_1', '0_x1F', '1e3', '.5_5', '~', '', 'NULL', '<<', '.inf'];
  const written = writeYaml({ strings, plain: ['oN', 'yES', '_1', '1-2', 'x'], values: [true, false, null, 511, 1000, 0.5, 1e21, 9007199254740993n, -Infinity] });
  assert.is(
    written,
    [
      'strings:',
      ...strings.map((text) => `  - "${text}"`),
      'plain:',
      '  - oN',
      '  - yES',
      '  - _1',
      '  - 1-2',
      '  - x',
      'values:',
      '  - true',
      '  - false',
      '  - null',
      '  - 511',
      '  - 1000',
      '  - 0.5',
      '  - 1e+21',
      '  - 9007199254740993',
      '  - -.inf',
      '',
    ].join('\n'),
  );
});

test('a `<<` key merges as it does for kubectl, and a string key `<<` is written quoted', () => {
  assert.equal(readYaml('base: &b {p: 1, q: 2}\nderived: {<<: *b, q: 3}\n'), { base: { p: 1, q: 2 }, derived: { p: 1, q: 3 } });
  assert.is(writeYaml({ '<<': 'text' }), '"<<": text\n');
});

test('YAML 1.1 readers other than kubectl are kept safe: dates and base 60 numbers stay quoted', () => {
  assert.is(writeYaml({ date: '2024-01-02', time: '1:20' }), 'date: "2024-01-02"\ntime: "1:20"\n');
});

test('an edited object keeps the meaning of its scalars: an unquoted `on` stays true, a quoted one a string', () => {
  const text = 'apiVersion: v1\nkind: Thing\nmetadata:\n  name: t\nspec:\n  enabled: on\n  mode: "on"\n  perm: 0777\n  when: 2024-01-02\n';
  const documents = parseManifestDocuments(text, 'thing.yaml');
  const edited = structuredClone(documents[0]!.objects[0]!);
  edited.metadata!['labels'] = { edited: 'yes' };
  const [written] = objectTexts(documents, [edited]);
  assert.is(
    written,
    'apiVersion: v1\nkind: Thing\nmetadata:\n  name: t\n  labels:\n    edited: "yes"\nspec:\n  enabled: true\n  mode: "on"\n  perm: 511\n  when: "2024-01-02"\n',
  );
});

test('syntax errors name their line; manifests report it from the start of the stream', () => {
  try {
    readYaml('a: 1\nb: [unclosed\n');
    assert.unreachable();
  } catch (error) {
    assert.instance(error, YamlSyntaxError);
    assert.is((error as YamlSyntaxError).line, 2);
  }
  assert.throws(() => parseManifestDocuments('kind: A\n---\nkind: B\nmetadata: {name: [x}\n', 'r.yaml'), (error: Error) => error instanceof KfbundleError && /r\.yaml at line 4/.test(error.message));
});

test('a key named twice: the last wins as in kubectl, unless unique keys are asked for', () => {
  assert.equal(readYaml('a: 1\na: 2\n'), { a: 2 });
  assert.throws(() => readYaml('a: 1\na: 2\n', { uniqueKeys: true }), (error: Error) => error instanceof YamlSyntaxError && /duplicated mapping key/.test(error.message));
});

test('a stream reads every document', () => {
  assert.equal(readYamlStream('a: on\n---\nb: 0777\n'), [{ a: true }, { b: 511 }]);
});

test.run();
