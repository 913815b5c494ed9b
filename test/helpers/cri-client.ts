// A small client of a container runtime's CRI API (runtime.v1) over its gRPC unix socket: what kubelet calls to pull
// an image and to see which images a node has. Only the calls the tests need (see cri-api.proto).

import { credentials, loadPackageDefinition, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

const PROTO = fileURLToPath(new URL('./cri-api.proto', import.meta.url));
/** A call that answers from memory (version, status, list). */
const QUICK_CALL_MS = 15_000;
/** A pull fetches and unpacks layers; the test images are a few hundred kB. */
const PULL_CALL_MS = 60_000;

export interface CriImage {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  /** Bytes, as a decimal string (uint64). */
  size: string;
}

export interface CriVersion {
  runtimeName: string;
  runtimeVersion: string;
  runtimeApiVersion: string;
}

type Callback<T> = (error: ServiceError | null, response: T) => void;
type Unary<Request, Response> = (request: Request, options: { deadline: Date }, callback: Callback<Response>) => void;

interface ImageSpec {
  image: string;
}

interface ImageServiceStub extends Client {
  PullImage: Unary<{ image: ImageSpec }, { imageRef: string }>;
  ImageStatus: Unary<{ image: ImageSpec }, { image: CriImage | null }>;
  ListImages: Unary<{ filter?: { image: ImageSpec } }, { images: CriImage[] }>;
  RemoveImage: Unary<{ image: ImageSpec }, Record<string, never>>;
}

interface RuntimeServiceStub extends Client {
  Version: Unary<{ version: string }, CriVersion>;
}

type StubConstructor<T> = new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => T;

function loadStubs(): { ImageService: StubConstructor<ImageServiceStub>; RuntimeService: StubConstructor<RuntimeServiceStub> } {
  // Numbers that do not fit a JS number (uint64 sizes) as strings; absent repeated fields as [] rather than undefined.
  const definition = loadSync(PROTO, { longs: String, defaults: true, arrays: true });
  const root = loadPackageDefinition(definition) as unknown as {
    runtime: { v1: { ImageService: StubConstructor<ImageServiceStub>; RuntimeService: StubConstructor<RuntimeServiceStub> } };
  };
  return root.runtime.v1;
}

function call<Request, Response>(method: Unary<Request, Response>, stub: Client, request: Request, limitMs: number): Promise<Response> {
  return new Promise((resolve, reject) => {
    method.call(stub, request, { deadline: new Date(Date.now() + limitMs) }, (error, response) => (error === null ? resolve(response) : reject(error)));
  });
}

export interface CriClient {
  version(): Promise<CriVersion>;
  /** Pulls `image` as kubelet would (no credentials, no sandbox); resolves to the runtime's image_ref. */
  pullImage(image: string): Promise<string>;
  /** The image the runtime knows by `image` (a name or an ID), or null when it has none. */
  imageStatus(image: string): Promise<CriImage | null>;
  listImages(): Promise<CriImage[]>;
  removeImage(image: string): Promise<void>;
  close(): void;
}

/** `socketPath` is the runtime's gRPC unix socket (containerd's `[grpc] address`). */
export function criClient(socketPath: string): CriClient {
  const { ImageService, RuntimeService } = loadStubs();
  const address = `unix://${socketPath}`;
  const images = new ImageService(address, credentials.createInsecure());
  const runtime = new RuntimeService(address, credentials.createInsecure());
  return {
    version: () => call(runtime.Version, runtime, { version: 'v1' }, QUICK_CALL_MS),
    pullImage: async (image) => (await call(images.PullImage, images, { image: { image } }, PULL_CALL_MS)).imageRef,
    imageStatus: async (image) => (await call(images.ImageStatus, images, { image: { image } }, QUICK_CALL_MS)).image,
    listImages: async () => (await call(images.ListImages, images, {}, QUICK_CALL_MS)).images,
    removeImage: async (image) => void (await call(images.RemoveImage, images, { image: { image } }, QUICK_CALL_MS)),
    close() {
      images.close();
      runtime.close();
    },
  };
}
