// `kfbundle --version` and `--help` answer from commander alone: a command's module, and what it needs (dockerode,
// tar, js-yaml …), is loaded only when that command runs. Which modules load is recorded by a module hook, the way
// Node itself reports them; how long startup takes is measured by hand (it depends on the machine), not asserted.

import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { QUICK_MS, runKfbundle } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';

const test = suite<{ dir: { path: string; remove(): Promise<void> } }>('CLI startup');
const COMMANDS = ['build', 'verify', 'inspect', 'keygen', 'sign', 'images'];

test.before(async (context) => {
  context.dir = await makeTempDir('kfb-cli-startup-');
  // Records the URL of every module the process resolves, into the file KFB_LOADED names.
  await writeFile(
    join(context.dir.path, 'record-loads.mjs'),
    "import { appendFileSync } from 'node:fs';\n" +
      'export async function resolve(specifier, context, next) {\n' +
      '  const result = await next(specifier, context);\n' +
      "  appendFileSync(process.env.KFB_LOADED, `${result.url}\\n`);\n" +
      '  return result;\n' +
      '}\n',
  );
  await writeFile(join(context.dir.path, 'register.mjs'), "import { register } from 'node:module';\nregister('./record-loads.mjs', import.meta.url);\n");
});

test.after(async (context) => {
  await context.dir?.remove();
});

/** Runs the CLI and returns what it printed and the modules it loaded. */
async function runRecorded(dir: string, args: string[]): Promise<{ code: number | null; stdout: string; loaded: string[] }> {
  const loadedFile = join(dir, `loaded-${args[0]!.replace(/^-+/, '')}.txt`);
  await writeFile(loadedFile, '');
  const result = await runKfbundle(args, { env: { KFB_LOADED: loadedFile, NODE_OPTIONS: `--import ${join(dir, 'register.mjs')}` }, timeoutMs: QUICK_MS });
  return { code: result.code, stdout: result.stdout, loaded: (await readFile(loadedFile, 'utf8')).split('\n').filter(Boolean) };
}

test('--version prints the version from package.json, having loaded no command', async ({ dir }) => {
  const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const run = await runRecorded(dir.path, ['--version']);
  assert.is(run.code, 0);
  assert.is(run.stdout, `${version}\n`);
  assert.ok(run.loaded.some((url) => url.includes('/node_modules/commander/')), 'the hook records what loads');
  assert.equal(
    run.loaded.filter((url) => url.includes('/dist/cli/commands/') || (url.includes('/node_modules/') && !url.includes('/node_modules/commander/'))),
    [],
  );
});

test('--help lists every command, having loaded none of them', async ({ dir }) => {
  const run = await runRecorded(dir.path, ['--help']);
  assert.is(run.code, 0);
  for (const command of COMMANDS) assert.match(run.stdout, new RegExp(`^  ${command} `, 'm'), command);
  assert.match(run.stdout, 'Typical use:');
  assert.equal(run.loaded.filter((url) => url.includes('/dist/cli/commands/')), []);
});

test("a command's --help shows its options and examples without loading it", async ({ dir }) => {
  const run = await runRecorded(dir.path, ['build', '--help']);
  assert.is(run.code, 0);
  assert.match(run.stdout, '--manifests <path>');
  assert.match(run.stdout, 'Examples:\n  kfbundle build');
  assert.equal(run.loaded.filter((url) => url.includes('/dist/cli/commands/')), []);
});

test('a command loads its module when it runs', async ({ dir }) => {
  const run = await runRecorded(dir.path, ['keygen', '--private', join(dir.path, 'k.key'), '--public', join(dir.path, 'k.pub')]);
  assert.is(run.code, 0);
  assert.is((await stat(join(dir.path, 'k.key'))).mode & 0o777, 0o600);
  assert.match(await readFile(join(dir.path, 'k.pub'), 'utf8'), /^-----BEGIN PUBLIC KEY-----\n/);
  assert.ok(run.loaded.some((url) => url.endsWith('/dist/cli/commands/keygen.js')));
  assert.not.ok(run.loaded.some((url) => url.endsWith('/dist/cli/commands/build.js')), 'only the command that runs');
});

test.run();
