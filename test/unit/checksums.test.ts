import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatChecksums, parseChecksums } from '../../src/core/checksums.js';

const test = suite('SHA256SUMS');
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

test('formats sorted lines that sha256sum -c reads, and parses them back', () => {
  const text = formatChecksums([
    { path: 'manifests/00-all.yaml', sha256: B },
    { path: 'bundle.json', sha256: A },
  ]);
  assert.is(text, `${A}  bundle.json\n${B}  manifests/00-all.yaml\n`);
  assert.equal(parseChecksums(text), [
    { path: 'bundle.json', sha256: A },
    { path: 'manifests/00-all.yaml', sha256: B },
  ]);
  assert.equal(parseChecksums(`${A} *images/images.tar\n`), [{ path: 'images/images.tar', sha256: A }]);
});

test('refuses unsafe, malformed and repeated entries, naming the line', () => {
  const cases: [string, RegExp][] = [
    [`${A}  /etc/passwd\n`, /line 1 .*absolute/],
    [`${A}  ../outside\n`, /line 1 .*escapes/],
    [`${A}  images/../../x\n`, /escapes/],
    [`${A}  ok\n${'z'.repeat(64)}  bad\n`, /line 2 is malformed/],
    [`${A}  x\n${B}  x\n`, /line 2 repeats "x"/],
  ];
  for (const [text, pattern] of cases) {
    assert.throws(() => parseChecksums(text), (error: Error) => pattern.test(error.message), text);
  }
});

test.run();
