// An upgrade applied over an older release, against the API server double with the real kubectl: the newer bundle
// converges with server-side apply; what the older release had and the newer no longer has is listed after the
// install and left in place; `--dry-run --prune` lists it and changes nothing; `--prune` deletes it (custom resources
// before their CRD), and the cluster's inventory then lists the newer release alone.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ApiServerDouble } from '../api-double/api-server-double.js';
import { runCommand } from '../helpers/cli.js';
import { buildWithFakeStore } from '../helpers/fake-build.js';
import { writeKubeconfig } from '../helpers/kubeconfig.js';
import { crdYaml, deploymentYaml } from '../helpers/manifests.js';
import { makeTempDir } from '../helpers/tmp.js';

const test = suite('upgrades applied over an older release');

const NAMESPACE = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: kubeflow}\n';
const CRD = crdYaml('example.com', 'Widget', 'widgets');
const WIDGET = 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: old-widget, namespace: kubeflow}\nspec: {size: 1}\n';
const configMap = (name: string, value: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}, namespace: kubeflow}\ndata: {value: "${value}"}\n`;
const app = (name: string, tag: string) => deploymentYaml('kubeflow', name, `      - {name: main, image: "gcr.io/example/${name}:${tag}"}\n`);

test('leftovers are listed, left in place, previewed with --dry-run --prune, and deleted with --prune', async () => {
  const work = await makeTempDir('kfb-upgrade-');
  const double = new ApiServerDouble({ hasImage: async () => true });
  await double.start();
  try {
    const write = async (name: string, documents: string[]) => {
      const path = join(work.path, `${name}.yaml`);
      await writeFile(path, documents.join('---\n'));
      const out = join(work.path, name);
      await buildWithFakeStore(path, out);
      return out;
    };
    const old = await write('old', [NAMESPACE, CRD, WIDGET, app('api', '1'), app('retired', '1'), configMap('settings', 'a'), configMap('legacy', 'x')]);
    const next = await write('next', [NAMESPACE, app('api', '2'), app('fresh', '1'), configMap('settings', 'b')]);
    const env = { KUBECONFIG: await writeKubeconfig(work.path, double.url), HOME: work.path };
    const install = (bundle: string, extra: string[] = []) => runCommand('bash', [join(bundle, 'install.sh'), '--skip-images', '--timeout', '60', ...extra], { env, timeoutMs: 300_000 });

    const first = await install(old);
    assert.is(first.code, 0, first.stderr);
    assert.not.match(first.stdout, /earlier installs applied/);
    const recorded = double.get('ConfigMap', 'kube-system', 'kfbundle-inventory')!['data']['objects'] as string;
    assert.match(recorded, 'example.com/v1\tWidget\tkubeflow\told-widget\n');

    // The upgrade converges and leaves the old release's other objects as they are, naming them.
    const upgraded = await install(next);
    assert.is(upgraded.code, 0, upgraded.stderr);
    assert.is(double.get('ConfigMap', 'kubeflow', 'settings')!['data']['value'], 'b');
    assert.match(double.get('Deployment', 'kubeflow', 'api')!['spec']['template']['spec']['containers'][0]['image'], /api:2$/);
    assert.ok(double.get('Deployment', 'kubeflow', 'fresh'));
    assert.match(upgraded.stdout, /4 objects earlier installs applied are not in this bundle \(left as they are/, upgraded.stdout);
    for (const line of ['CustomResourceDefinition widgets.example.com', 'Widget kubeflow/old-widget', 'Deployment kubeflow/retired', 'ConfigMap kubeflow/legacy']) assert.match(upgraded.stdout, `  ${line}\n`);
    assert.match(upgraded.stdout, /to delete them: .*install\.sh --skip-images --prune/);
    assert.ok(double.get('Deployment', 'kubeflow', 'retired'), 'nothing deleted without --prune');

    // --dry-run --prune: the list, nothing changed.
    const preview = await runCommand('bash', [join(next, 'install.sh'), '--dry-run', '--prune'], { env, timeoutMs: 60_000 });
    assert.is(preview.code, 0, preview.stderr);
    assert.match(preview.stdout, /--prune would delete these 4 objects/);
    assert.ok(double.get('ConfigMap', 'kubeflow', 'legacy'));

    const pruned = await install(next, ['--prune']);
    assert.is(pruned.code, 0, pruned.stderr);
    for (const [kind, namespace, name] of [['Deployment', 'kubeflow', 'retired'], ['ConfigMap', 'kubeflow', 'legacy'], ['Widget', 'kubeflow', 'old-widget'], ['CustomResourceDefinition', undefined, 'widgets.example.com']] as const) {
      assert.is(double.get(kind, namespace, name), undefined, `${kind} ${name} deleted`);
    }
    const deleted = [...pruned.stdout.matchAll(/deleted (\w+) /g)].map((match) => match[1]);
    assert.ok(deleted.indexOf('Widget') < deleted.indexOf('CustomResourceDefinition'), `custom resources before their CRD: ${deleted.join(', ')}`);
    assert.ok(double.get('Deployment', 'kubeflow', 'api') && double.get('Namespace', undefined, 'kubeflow'), 'what the release has stays');
    const inventory = double.get('ConfigMap', 'kube-system', 'kfbundle-inventory')!['data']['objects'] as string;
    assert.not.match(inventory, /retired|legacy|widget/);
    const again = await install(next);
    assert.not.match(again.stdout, /earlier installs applied/);
    const refused = await runCommand('bash', [join(next, 'install.sh'), '--images-only', '--prune'], { env, timeoutMs: 60_000 });
    assert.is.not(refused.code, 0);
    assert.match(refused.stderr, /--prune deletes what the manifests no longer have/);
  } finally {
    await double.stop();
    await work.remove();
  }
});

test.run();
