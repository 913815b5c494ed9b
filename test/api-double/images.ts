// What a node's container runtime knows of images: whether it has one, asked of the node's hasImage and remembered for
// about a second. The kubelet looks each time it starts a container, never for one running: an image removed from the
// node fails the next pod that needs it, and loading an image heals the pods failing to pull it. How a pull fails on an
// isolated node, in containerd's words.

import { createHash } from 'node:crypto';
import { formatImageRef, imageName, parseImageRef, type ImageRef } from '../../src/core/image-ref.js';
import type { ResolvedNode } from './nodes.js';

/** How long a "not present" answer stands before the kubelet's next look. */
export const RECHECK_MS = 1000;

interface Entry {
  present: boolean | undefined;
  checkedAt: number;
  pending: boolean;
}

export class ImagePresence {
  private readonly entries = new Map<string, Entry>();

  /**
   * Whether the node has the image, as far as known now: an answer stands for RECHECK_MS, after which the node is
   * asked again, and it is undefined (the container waits) until the new answer comes: a container is started on
   * what the runtime says at its start, not on what it said before. Lookups never block a round.
   */
  peek(node: ResolvedNode, ref: string, now: number): boolean | undefined {
    const key = `${node.name}\u0000${ref}`;
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = { present: undefined, checkedAt: 0, pending: false };
      this.entries.set(key, entry);
    }
    if (!entry.pending && now - entry.checkedAt >= RECHECK_MS) {
      entry.present = undefined;
      const target = entry;
      target.pending = true;
      void node
        .hasImage(ref)
        .catch(() => false)
        .then((present) => {
          target.present = present;
          target.checkedAt = Date.now();
          target.pending = false;
        });
    }
    return entry.present;
  }
}

/** The reference as containerd resolves it: `busybox:1` is `docker.io/library/busybox:1`; a digest drops the tag. */
export function runtimeName(ref: string): string {
  const parsed = parseImageRef(ref);
  return formatImageRef(parsed.digest === undefined ? parsed : { ...parsed, tag: undefined });
}

function endpoint(parsed: ImageRef): { host: string; dial: string } {
  const host = parsed.registry === 'docker.io' ? 'registry-1.docker.io' : parsed.registry;
  const [hostname, port] = host.split(':') as [string, string | undefined];
  if (/^\d+\.\d+\.\d+\.\d+$/.test(hostname) || hostname === 'localhost') {
    const ip = hostname === 'localhost' ? '127.0.0.1' : hostname;
    return { host, dial: `dial tcp ${ip}:${port ?? '443'}: connect: connection refused` };
  }
  return { host, dial: `dial tcp: lookup ${hostname}: no such host` };
}

/** The imageID a started container reports: the repository and a content digest. */
export function imageId(ref: string): string {
  const digest = createHash('sha256').update(ref).digest('hex');
  try {
    return `docker-pullable://${imageName(parseImageRef(ref))}@sha256:${digest}`;
  } catch {
    return `docker://sha256:${digest}`;
  }
}

/** containerd's error for a pull on a node that reaches no registry (what the kubelet puts in ErrImagePull). */
export function pullError(ref: string): string {
  const parsed = parseImageRef(ref);
  const name = runtimeName(ref);
  const { host, dial } = endpoint(parsed);
  const reference = parsed.digest ?? parsed.tag ?? 'latest';
  const repository = imageName(parsed).slice(parsed.registry.length + 1);
  return `failed to pull and unpack image "${name}": failed to resolve reference "${name}": failed to do request: Head "https://${host}/v2/${repository}/manifests/${reference}": ${dial}`;
}

/** The kubelet's message for a reference it cannot parse (waiting reason InvalidImageName). */
export function invalidImageMessage(ref: string): string | undefined {
  try {
    parseImageRef(ref);
    return undefined;
  } catch {
    return `Failed to apply default image tag "${ref}": couldn't parse image name "${ref}": invalid reference format`;
  }
}
