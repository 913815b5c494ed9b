// YAML as kubectl reads it, in both directions. kubectl turns YAML into JSON with go-yaml v2, so a plain scalar
// means what go-yaml v2's resolver says: `on` and `yes` are true, `0777` is 511, `1e3` is 1000, dates stay text.
// KUBECTL_SCALARS states those rules once. The reader (js-yaml: it parses a 12 MB release about ten times faster
// than the `yaml` package) and the writer (the `yaml` package) are both built from it, so an object read here and
// written back means to kubectl what it meant before. Every module that reads or writes YAML goes through this one.

import { FAILSAFE_SCHEMA, load, loadAll, Type, YAMLException } from 'js-yaml';
import { stringify, type ScalarTag, type Tags } from 'yaml';

/** What kubectl makes of a plain scalar that is not a string. */
export type KubectlScalar = null | boolean | number | bigint;

export interface KubectlScalarRule {
  meaning: 'null' | 'bool' | 'int' | 'float' | 'merge';
  /** The plain scalars it takes, as written: these words, or every text of this form. */
  forms: readonly string[] | RegExp;
  /** The value kubectl ends up with; undefined where it keeps the text as a string after all (out of range). */
  value: (text: string) => KubectlScalar | '<<' | undefined;
}

// go-yaml drops every `_` of a scalar that starts with a digit or a sign before it parses a number, so `1_000`,
// `0_x1F` and `+_1` are numbers: `_*` may follow any character of those forms.
const DIGIT = '(?:[0-9]_*)';
const UNSIGNED_FLOAT = `${DIGIT}+(?:\\._*${DIGIT}*)?`;
const EXPONENT = `(?:[eE]_*(?:[-+]_*)?${DIGIT}+)`;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * go-yaml tries Go's ParseInt, then ParseUint (base 0: 0x, 0o, 0b and a bare leading 0 are prefixes), then a float.
 * kubectl then passes the value through JSON, where only an int64 stays an integer: a larger one becomes a float,
 * which is what a JavaScript number is. An integer a number cannot hold exactly is a bigint.
 */
function integerValue(text: string): number | bigint | undefined {
  const plain = text.replaceAll('_', '');
  const sign = plain[0] === '-' || plain[0] === '+' ? plain[0] : '';
  const body = plain.slice(sign.length);
  const prefixed = /^0[xXoObB]/.test(body);
  // BigInt knows 0x, 0o and 0b, but reads a bare leading 0 as decimal.
  const magnitude = BigInt(!prefixed && /^0[0-7]+$/.test(body) ? `0o${body.slice(1)}` : body);
  const value = sign === '-' ? -magnitude : magnitude;
  if (value >= INT64_MIN && value <= INT64_MAX) return Number.isSafeInteger(Number(value)) ? Number(value) : value;
  if (sign === '' && magnitude <= UINT64_MAX) return Number(magnitude);
  // Beyond ParseUint a prefixed form stays a string; a decimal one (with leading zeros too) is read as a float.
  return prefixed ? undefined : floatValue(plain);
}

/** On overflow Go's ParseFloat fails, and go-yaml keeps the text as a string. */
function floatValue(text: string): number | undefined {
  const value = Number(text.replaceAll('_', ''));
  return Number.isFinite(value) ? value : undefined;
}

/**
 * go-yaml v2's resolver (resolve.go of the fork in sigs.k8s.io/yaml, v2.4), checked against kubectl by
 * test/integration/yaml-kubectl.test.ts. Like go-yaml, a rule either lists its words or gives the form of a number.
 * A plain scalar no rule takes is a string, dates included: go-yaml makes a timestamp of one, then hands the text
 * back when it decodes into an untyped value, as kubectl does. Keys follow the same rules and are named as kubectl
 * names them (`on:` is "true", `0777:` is "511"), but for keys kubectl refuses (null, integers beyond int64) and
 * float keys, which kubectl names at float32 precision (`1e20:` is "1e+20" there, "100000000000000000000" here).
 */
export const KUBECTL_SCALARS: readonly KubectlScalarRule[] = [
  { meaning: 'null', forms: ['', '~', 'null', 'Null', 'NULL'], value: () => null },
  { meaning: 'bool', forms: ['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON'], value: () => true },
  { meaning: 'bool', forms: ['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF'], value: () => false },
  {
    meaning: 'int',
    forms: new RegExp(`^(?:[-+]_*)?(?:0_*[xX]_*(?:[0-9a-fA-F]_*)+|0_*[oO]_*(?:[0-7]_*)+|0_*[bB]_*(?:[01]_*)+|${DIGIT}+)$`),
    value: integerValue,
  },
  // Starting with a digit or a sign (`.5` only after a sign).
  { meaning: 'float', forms: new RegExp(`^(?:[-+]_*(?:\\._*${DIGIT}+|${UNSIGNED_FLOAT})|${UNSIGNED_FLOAT})${EXPONENT}?$`), value: floatValue },
  // Starting with `.`: Go's ParseFloat on the text as it stands, where `_` may only stand between two digits.
  { meaning: 'float', forms: /^\.[0-9]+(?:_[0-9]+)*(?:[eE][-+]?[0-9]+(?:_[0-9]+)*)?$/, value: floatValue },
  // kubectl reads these, but no JSON holds them: it fails on them, and so it will on what is written back.
  { meaning: 'float', forms: ['.nan', '.NaN', '.NAN'], value: () => NaN },
  { meaning: 'float', forms: ['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF'], value: () => Infinity },
  { meaning: 'float', forms: ['-.inf', '-.Inf', '-.INF'], value: () => -Infinity },
  // As a key, `<<` merges the mapping it names into the one it stands in.
  { meaning: 'merge', forms: ['<<'], value: () => '<<' },
];

/** A rule's forms as one pattern, for the writer. */
function patternOf(rule: KubectlScalarRule): RegExp {
  return rule.forms instanceof RegExp ? rule.forms : new RegExp(`^(?:${rule.forms.map((word) => word.replace(/[.+]/g, '\\$&')).join('|')})$`);
}

// go-yaml parses a number only out of a scalar that starts with one of these.
const NUMBER_START = new Set('+-.0123456789');

/** Reads plain scalars by some of the rules (the reader asks about one meaning at a time). */
function scalarReader(rules: readonly KubectlScalarRule[]): (text: string) => KubectlScalarRule | undefined {
  const words = new Map(rules.flatMap((rule) => (rule.forms instanceof RegExp ? [] : rule.forms.map((word) => [word, rule] as const))));
  const numbers = rules.filter((rule) => rule.forms instanceof RegExp);
  return (text) =>
    words.get(text) ??
    (NUMBER_START.has(text[0]!) ? numbers.find((rule) => (rule.forms as RegExp).test(text) && rule.value(text) !== undefined) : undefined);
}

// js-yaml asks every implicit type of the schema in turn about every plain scalar (250,000 in a release),
// so the first one takes at once those go-yaml never reads as anything but a string: by their first character.
const MAY_NOT_BE_STRING = new Set([...NUMBER_START, ...KUBECTL_SCALARS.flatMap((rule) => (rule.forms instanceof RegExp ? [] : rule.forms.map((word) => word[0])))]);
const plainText = new Type('tag:yaml.org,2002:str', {
  kind: 'scalar',
  resolve: (data: string | null) => data !== null && data !== '' && !MAY_NOT_BE_STRING.has(data[0]!),
});
const readingTypes = (['null', 'bool', 'int', 'float', 'merge'] as const).map((meaning) => {
  const ruleFor = scalarReader(KUBECTL_SCALARS.filter((rule) => rule.meaning === meaning));
  return new Type(`tag:yaml.org,2002:${meaning}`, {
    kind: 'scalar',
    // `data` is null for an empty node tagged `!!null`.
    resolve: (data: string | null) => (data === null ? meaning === 'null' : ruleFor(data) !== undefined),
    construct: (data: string | null) => (data === null ? null : ruleFor(data)!.value(data)),
  });
});

/** Strings, mappings and sequences, and kubectl's scalars. */
const KUBECTL_SCHEMA = FAILSAFE_SCHEMA.extend({ implicit: [plainText, ...readingTypes] });

/** Text that is not YAML; `line` is 0-based in the text that was read. */
export class YamlSyntaxError extends Error {
  readonly reason: string;
  readonly line: number | undefined;

  constructor(reason: string, line: number | undefined) {
    super(line === undefined ? reason : `${reason} (line ${line + 1})`);
    this.reason = reason;
    this.line = line;
  }
}

export interface ReadOptions {
  /** Reject a mapping that names a key twice. Off by default: go-yaml v2, as kubectl uses it, lets the last win. */
  uniqueKeys?: boolean;
}

function reading<T>(read: (options: { schema: typeof KUBECTL_SCHEMA; json: boolean }) => T, options: ReadOptions): T {
  try {
    return read({ schema: KUBECTL_SCHEMA, json: options.uniqueKeys !== true });
  } catch (error) {
    throw error instanceof YAMLException ? new YamlSyntaxError(error.reason, error.mark?.line) : error;
  }
}

/** One document, read as kubectl reads it. @throws YamlSyntaxError */
export function readYaml(text: string, options: ReadOptions = {}): unknown {
  return reading((loadOptions) => load(text, loadOptions), options);
}

/** Every document of a stream, read as kubectl reads it. @throws YamlSyntaxError */
export function readYamlStream(text: string, options: ReadOptions = {}): unknown[] {
  return reading((loadOptions) => loadAll(text, null, loadOptions), options);
}

// The writer's side of each rule: which values it writes, and how, so that kubectl reads them back unchanged.
const WRITTEN: Record<KubectlScalarRule['meaning'], Pick<ScalarTag, 'identify' | 'stringify'>> = {
  null: { identify: (value) => value === null, stringify: () => 'null' },
  bool: { identify: (value) => typeof value === 'boolean', stringify: ({ value }) => String(value) },
  int: { identify: (value) => typeof value === 'bigint' || Number.isInteger(value), stringify: ({ value }) => String(value) },
  float: {
    identify: (value) => typeof value === 'number',
    stringify: ({ value }) => (Number.isNaN(value) ? '.nan' : value === Infinity ? '.inf' : value === -Infinity ? '-.inf' : String(value)),
  },
  merge: {},
};

// `yaml` quotes a string that the `test` of one of its default tags matches.
const writingTags: ScalarTag[] = KUBECTL_SCALARS.map((rule) => ({
  tag: `tag:yaml.org,2002:${rule.meaning}`,
  default: true,
  test: patternOf(rule),
  resolve: (text: string) => rule.value(text) ?? text,
  ...WRITTEN[rule.meaning],
}));

/**
 * Writes a value as YAML that kubectl reads back as the same value. The `yaml` package's own YAML 1.1 rules follow
 * the table's: they quote a little more (dates, base 60 numbers like `1:20`), which kubectl reads as text either way;
 * that keeps the output safe for other YAML 1.1 readers and keeps the bytes bundles have always had.
 */
export function writeYaml(value: unknown): string {
  return stringify(value, {
    version: '1.1',
    lineWidth: 0,
    aliasDuplicateObjects: false,
    // Its YAML 1.1 merge tag writes the string `<<` plain, which kubectl takes for a merge key; the table quotes it.
    customTags: (yaml11: Tags) => [...writingTags, ...yaml11.filter((tag) => typeof tag === 'string' || tag.tag !== 'tag:yaml.org,2002:merge')],
  });
}
