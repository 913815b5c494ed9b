// AWS China regions live in their own partition: an ARN written `arn:aws:…` names nothing there.

import { KfbundleError } from './errors.js';
import type { KubernetesObject } from './k8s-object.js';
import { rewriteStrings, type RewrittenObjects } from './rewrite-strings.js';

export const AWS_PARTITIONS = ['aws', 'aws-cn', 'aws-us-gov'] as const;
export type AwsPartition = (typeof AWS_PARTITIONS)[number];

export function parseAwsPartition(text: string): AwsPartition {
  const partition = AWS_PARTITIONS.find((candidate) => candidate === text);
  if (partition === undefined) {
    throw new KfbundleError('USAGE', `unknown AWS partition "${text}"`, { hint: `use one of ${AWS_PARTITIONS.join(', ')} (aws-cn for the Beijing and Ningxia regions)` });
  }
  return partition;
}

const ARN = /\barn:aws(?:-cn|-us-gov)?:/g;

/** Every ARN in every string value, ConfigMap-embedded documents and annotations included, moved to `partition`. */
export function rewriteAwsPartition(objects: readonly KubernetesObject[], partition: AwsPartition): RewrittenObjects {
  const prefix = `arn:${partition}:`;
  return rewriteStrings(objects, (text) => (text.includes('arn:aws') ? text.replace(ARN, prefix) : text));
}
