// A kubeconfig pointing kubectl at the API server double.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export async function writeKubeconfig(dir: string, server: string): Promise<string> {
  const path = join(dir, `kubeconfig-${server.split(':').at(-1)}`);
  await writeFile(
    path,
    `apiVersion: v1\nkind: Config\nclusters: [{name: double, cluster: {server: "${server}"}}]\nusers: [{name: test, user: {}}]\ncontexts: [{name: double, context: {cluster: double, user: test}}]\ncurrent-context: double\n`,
  );
  return path;
}
