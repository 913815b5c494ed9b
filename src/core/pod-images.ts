// Finds the containers of every pod template in a set of objects: the images a cluster pulls at install time.

import { describeObject, isRecord, type KubernetesObject } from './k8s-object.js';

/** Where each workload kind keeps its pod spec. Other kinds are checked for the common `spec.template.spec` shape. */
const POD_SPEC_PATHS: Record<string, readonly string[]> = {
  Pod: ['spec'],
  PodTemplate: ['template', 'spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};
const GENERIC_POD_SPEC_PATH = ['spec', 'template', 'spec'] as const;
const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'] as const;

export interface ContainerLocation {
  /** Index of the object in the list given. */
  objectIndex: number;
  /** `Kind/namespace/name`. */
  object: string;
  /** Field path of the image, e.g. `spec.template.spec.containers[0].image`. */
  path: string;
  /** The image exactly as written. */
  image: string;
  /** The container itself, for structural edits by the caller. */
  container: Record<string, unknown>;
}

function getPath(root: unknown, path: readonly string[]): unknown {
  let node = root;
  for (const key of path) {
    if (!isRecord(node)) return undefined;
    node = node[key];
  }
  return node;
}

function podSpecPathOf(object: KubernetesObject): readonly string[] | undefined {
  const known = object.kind === undefined ? undefined : POD_SPEC_PATHS[object.kind];
  if (known !== undefined) return known;
  const generic = getPath(object, GENERIC_POD_SPEC_PATH);
  return isRecord(generic) && Array.isArray(generic['containers']) ? GENERIC_POD_SPEC_PATH : undefined;
}

/** Every container with a string `image` in every pod template, in object order. */
export function findPodTemplateContainers(objects: readonly KubernetesObject[]): ContainerLocation[] {
  const found: ContainerLocation[] = [];
  objects.forEach((object, objectIndex) => {
    const specPath = podSpecPathOf(object);
    if (specPath === undefined) return;
    const podSpec = getPath(object, specPath);
    if (!isRecord(podSpec)) return;
    for (const listName of CONTAINER_LISTS) {
      const list = podSpec[listName];
      if (!Array.isArray(list)) continue;
      list.forEach((container: unknown, index) => {
        if (!isRecord(container) || typeof container['image'] !== 'string') return;
        found.push({
          objectIndex,
          object: describeObject(object),
          path: `${specPath.join('.')}.${listName}[${index}].image`,
          image: container['image'],
          container,
        });
      });
    }
  });
  return found;
}
