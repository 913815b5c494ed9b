// The components of Kubeflow releases v1.8.0 to 26.03, and the images each pulls from compiled-in defaults, by version.
// How to add a component or a version: docs/image-discovery.md ("The component table"). Every `why` says where
// upstream keeps the default (repository@tag, file, symbol), so the next version can be checked the same way.

import type { CompiledDefault, Component, ComponentVersion } from './component-defaults.js';

/** Components whose workloads pull nothing but their own images, or only images their manifests name. */
const NAMES_EVERY_IMAGE: readonly Component[] = [
  {
    name: 'Kubeflow notebooks web apps and profiles',
    repositories: [
      'docker.io/kubeflownotebookswg/centraldashboard',
      'docker.io/kubeflownotebookswg/jupyter-web-app',
      'docker.io/kubeflownotebookswg/kfam',
      'docker.io/kubeflownotebookswg/poddefaults-webhook',
      'docker.io/kubeflownotebookswg/profile-controller',
      'docker.io/kubeflownotebookswg/tensorboards-web-app',
      'docker.io/kubeflownotebookswg/volumes-web-app',
      'ghcr.io/kubeflow/kubeflow/central-dashboard',
      'ghcr.io/kubeflow/kubeflow/jupyter-web-app',
      'ghcr.io/kubeflow/kubeflow/kfam',
      'ghcr.io/kubeflow/kubeflow/poddefaults-webhook',
      'ghcr.io/kubeflow/kubeflow/profile-controller',
      'ghcr.io/kubeflow/kubeflow/tensorboards-web-app',
      'ghcr.io/kubeflow/kubeflow/volumes-web-app',
    ],
    versions: 'any',
    why: 'the spawner offers the images of its ConfigMap (spawner_ui_config.yaml); the volumes app starts the PVC viewer from its VOLUME_VIEWER_IMAGE env',
  },
  {
    name: 'Katib UI and DB manager',
    repositories: [
      'docker.io/kubeflowkatib/katib-db-manager',
      'docker.io/kubeflowkatib/katib-ui',
      'ghcr.io/kubeflow/katib/katib-db-manager',
      'ghcr.io/kubeflow/katib/katib-ui',
    ],
    versions: 'any',
    why: 'they serve and store experiments; the images of suggestions and metrics collectors come from katib-config',
  },
  {
    name: 'KServe models web app',
    repositories: ['docker.io/kserve/models-web-app', 'ghcr.io/kserve/models-web-app'],
    versions: 'any',
    why: 'a web app over InferenceServices; it starts no pods',
  },
  {
    name: 'Knative',
    repositories: [
      'gcr.io/knative-releases/knative.dev/eventing/cmd/controller',
      'gcr.io/knative-releases/knative.dev/eventing/cmd/mtping',
      'gcr.io/knative-releases/knative.dev/eventing/cmd/webhook',
      'gcr.io/knative-releases/knative.dev/net-istio/cmd/controller',
      'gcr.io/knative-releases/knative.dev/net-istio/cmd/webhook',
      'gcr.io/knative-releases/knative.dev/serving/cmd/activator',
      'gcr.io/knative-releases/knative.dev/serving/cmd/autoscaler',
      'gcr.io/knative-releases/knative.dev/serving/cmd/controller',
      'gcr.io/knative-releases/knative.dev/serving/cmd/domain-mapping',
      'gcr.io/knative-releases/knative.dev/serving/cmd/domain-mapping-webhook',
      'gcr.io/knative-releases/knative.dev/serving/cmd/webhook',
    ],
    versions: 'any',
    why: 'the serving controller reads the queue proxy from config-deployment (queue-sidecar-image) and refuses to start without it; eventing adapters are named in env',
  },
  {
    name: 'Identity and access (Dex, oauth2-proxy, OIDC AuthService)',
    repositories: ['ghcr.io/dexidp/dex', 'quay.io/oauth2-proxy/oauth2-proxy', 'docker.io/kubeflowmanifestswg/oidc-authservice'],
    versions: 'any',
    why: 'servers that start no pods',
  },
  {
    name: 'Metacontroller',
    repositories: ['docker.io/metacontrollerio/metacontroller', 'ghcr.io/metacontroller/metacontroller'],
    versions: 'any',
    why: 'it creates what its sync hooks return; the KFP profile controller hook composes its images from its env (FRONTEND_IMAGE, VISUALIZATION_SERVER_IMAGE, KFP_VERSION), which name images the release deploys itself',
  },
  {
    name: 'Support images (databases, object stores, proxies, hook runtimes, tools)',
    repositories: [
      'docker.io/library/mysql',
      'gcr.io/ml-pipeline/mysql',
      'gcr.io/ml-pipeline/minio',
      'docker.io/chrislusf/seaweedfs',
      'gcr.io/kubebuilder/kube-rbac-proxy',
      'quay.io/brancz/kube-rbac-proxy',
      'docker.io/library/python',
      'public.ecr.aws/docker/library/python',
      'docker.io/curlimages/curl',
      'docker.io/alpine/k8s',
    ],
    versions: 'any',
    why: 'third-party servers and tools run as they are; they start no pods',
  },
];

const TRAINING_OPERATOR = 'docker.io/kubeflow/training-operator';
const TRAINING_OPERATOR_GHCR = 'ghcr.io/kubeflow/training-v1/training-operator';

/** training-operator v1's two defaults, from its pkg/config/config.go at the commit its image tag names. */
function trainingOperatorDefaults(controller: string, commit: string, kubectlDelivery: string): CompiledDefault[] {
  return [
    {
      controller,
      image: 'alpine:3.10',
      override: { flag: 'pytorch-init-container-image' },
      tier: 'runtime',
      why: `kubeflow/trainer@${commit} pkg/config/config.go PyTorchInitContainerImageDefault: the init container of PyTorchJob workers beside a master (pkg/controller.v1/pytorch/initcontainer.go)`,
    },
    {
      controller,
      image: kubectlDelivery,
      override: { flag: 'mpi-kubectl-delivery-image' },
      tier: 'runtime',
      why: `kubeflow/trainer@${commit} pkg/config/config.go MPIKubectlDeliveryImageDefault: the init container of every v1 MPIJob launcher (pkg/controller.v1/mpi/mpijob_controller.go newLauncher)`,
    },
  ];
}

const KFP = {
  apiServer: ['gcr.io/ml-pipeline/api-server', 'ghcr.io/kubeflow/kfp-api-server'],
  cacheServer: ['gcr.io/ml-pipeline/cache-server', 'ghcr.io/kubeflow/kfp-cache-server'],
  frontend: ['gcr.io/ml-pipeline/frontend', 'ghcr.io/kubeflow/kfp-frontend'],
  viewer: ['gcr.io/ml-pipeline/viewer-crd-controller', 'ghcr.io/kubeflow/kfp-viewer-crd-controller'],
};

/**
 * The v2 driver and launcher the API server compiles into every run's workflow. 2.0.3 has no override; from 2.0.5 on
 * the env vars replace them (backend/src/v2/compiler/argocompiler/container.go GetDriverImage, GetLauncherImage).
 */
function kfpDriverAndLauncher(tag: string, driver: string, launcher: string): CompiledDefault[] {
  const overridable = tag !== '2.0.3';
  const where = overridable ? 'backend/src/v2/compiler/argocompiler/container.go' : 'backend/src/v2/compiler/argocompiler/argo.go';
  return KFP.apiServer.flatMap((controller) => [
    {
      controller,
      image: driver,
      ...(overridable ? { override: { env: 'V2_DRIVER_IMAGE' } } : {}),
      tier: 'runtime' as const,
      why: `kubeflow/pipelines@${tag} ${where} ${overridable ? 'DefaultDriverImage' : 'driverImage (a literal, no override)'}: the driver step of every v2 run`,
    },
    {
      controller,
      image: launcher,
      ...(overridable ? { override: { env: 'V2_LAUNCHER_IMAGE' } } : {}),
      tier: 'runtime' as const,
      why: `kubeflow/pipelines@${tag} ${where} ${overridable ? 'DefaultLauncherImage' : 'launcherImage (a literal, no override)'}: the launcher init container of every v2 step`,
    },
  ]);
}

/** What every KFP version also compiles in: the cached-step image, and the TensorBoard images of the UI and the viewer. */
function kfpOtherDefaults(tag: string, cacheImage: string): CompiledDefault[] {
  return [
    ...KFP.cacheServer.map((controller) => ({
      controller,
      image: cacheImage,
      override: { env: 'CACHE_IMAGE' },
      tier: 'runtime' as const,
      why: `kubeflow/pipelines@${tag} backend/src/cache/server/mutation.go MutatePodIfCached: the image a cached v1 step runs instead`,
    })),
    ...KFP.frontend.map((controller) => ({
      controller,
      image: 'tensorflow/tensorflow:2.2.2',
      tier: 'conditional' as const,
      why: `kubeflow/pipelines@${tag} frontend/src/components/viewers/Tensorboard.tsx DEFAULT_TF_IMAGE: what "Start TensorBoard" on a run's output runs (the menu offers older tags too)`,
    })),
    ...KFP.viewer.map((controller) => ({
      controller,
      image: 'tensorflow/tensorflow:1.13.2',
      tier: 'conditional' as const,
      why: `kubeflow/pipelines@${tag} backend/src/crd/controller/viewer/reconciler/reconciler.go defaultTensorflowImage: a Viewer created without an image (the UI always sends one)`,
    })),
  ];
}

const KFP_V2_GCR = 'gcr.io/ml-pipeline/kfp';

/** The digests KFP 2.0.3 to 2.3.0 pin their driver and launcher to (container.go, argo.go at each tag). */
const KFP_DIGESTS = {
  driver203: 'sha256:8e60086b04d92b657898a310ca9757631d58547e76bbbb8bfc376d654bef1707',
  launcher203: 'sha256:50151a8615c8d6907aa627902dce50a2619fd231f25d1e5c2a72737a2ea4001e',
  launcher205: 'sha256:80cf120abd125db84fa547640fd6386c4b2a26936e0c2b04a7d3634991a850a4',
  driver220: 'sha256:3c0665cd36aa87e4359a4c8b6271dcba5bdd817815cd0496ed12eb5dde5fd2ec',
  launcher220: 'sha256:8fe5e6e4718f20b021736022ad3741ddf2abd82aa58c86ae13e89736fdc3f08f',
  driver230: 'sha256:dc8b56a2eb071f30409828a8884d621092e68385af11a6c06aa9e9fbcfbb19de',
  launcher230: 'sha256:bef55a344574a25c557256d7c66cb19edacfd2008d694e5b6bb5b612d59feae0',
};

/** One KFP version: its driver, launcher and cached-step image, and the TensorBoard images every version has. */
function kfpVersion(tag: string, driver: string, launcher: string, cacheImage: string): ComponentVersion {
  return { tags: [tag], defaults: [...kfpDriverAndLauncher(tag, driver, launcher), ...kfpOtherDefaults(tag, cacheImage)] };
}

const ARGO_WORKFLOWS = ['gcr.io/ml-pipeline/workflow-controller', 'quay.io/argoproj/workflow-controller'];

/** Argo's executor, `quay.io/argoproj/argoexec:` + the tag stamped into the build (workflow/controller/config.go executorImage). */
function argoExecutor(tag: string, upstreamTag: string): ComponentVersion {
  return {
    tags: [tag],
    defaults: ARGO_WORKFLOWS.map((controller) => ({
      controller,
      image: `quay.io/argoproj/argoexec:${upstreamTag}`,
      override: { flag: 'executor-image' },
      tier: 'runtime' as const,
      why: `argoproj/argo-workflows@${upstreamTag} workflow/controller/config.go executorImage: the wait and init containers of every workflow pod (also executor.image in workflow-controller-configmap)`,
    })),
  };
}

function acmeSolver(tag: string, where: string): CompiledDefault {
  return {
    controller: 'quay.io/jetstack/cert-manager-controller',
    image: 'quay.io/jetstack/cert-manager-acmesolver:{version}',
    override: { flag: 'acme-http01-solver-image' },
    tier: 'conditional',
    why: `cert-manager/cert-manager@${tag} ${where}: acmesolver at the version stamped into the build (util.AppVersion)`,
  };
}

function pvcViewerDefault(controller: string): CompiledDefault {
  return {
    controller,
    image: 'filebrowser/filebrowser:latest',
    // DEFAULT_POD_SPEC_PATH replaces it with a file's pod spec, which names no image here: no override to set.
    tier: 'conditional',
    why: 'kubeflow/kubeflow@v1.8.0 components/pvcviewer-controller/api/v1alpha1/pvcviewer_webhook.go PVCViewer.Default(), the same at v1.9.0, v1.9.2 and v1.10.0: only a PVCViewer created without spec.podSpec (the volumes web app always sends one)',
  };
}

/** Controllers that pull images from compiled-in defaults, or could: each version checked against upstream. */
const COMPILES_IMAGES_IN: readonly Component[] = [
  {
    name: 'Kubeflow Pipelines',
    repositories: [
      ...KFP.apiServer,
      ...KFP.cacheServer,
      ...KFP.frontend,
      ...KFP.viewer,
      'gcr.io/ml-pipeline/metadata-envoy',
      'gcr.io/ml-pipeline/metadata-writer',
      'gcr.io/ml-pipeline/persistenceagent',
      'gcr.io/ml-pipeline/scheduledworkflow',
      'gcr.io/ml-pipeline/visualization-server',
      'gcr.io/tfx-oss-public/ml_metadata_store_server',
      'ghcr.io/kubeflow/kfp-metadata-envoy',
      'ghcr.io/kubeflow/kfp-metadata-writer',
      'ghcr.io/kubeflow/kfp-persistence-agent',
      'ghcr.io/kubeflow/kfp-scheduled-workflow-controller',
      'ghcr.io/kubeflow/kfp-visualization-server',
    ],
    versions: [
      kfpVersion('2.0.3', `${KFP_V2_GCR}-driver@${KFP_DIGESTS.driver203}`, `${KFP_V2_GCR}-launcher@${KFP_DIGESTS.launcher203}`, 'gcr.io/google-containers/busybox'),
      // 2.0.5's launcher digest is older than 2.0.3's: the release restored one from June 2023.
      kfpVersion('2.0.5', `${KFP_V2_GCR}-driver@${KFP_DIGESTS.driver203}`, `${KFP_V2_GCR}-launcher@${KFP_DIGESTS.launcher205}`, 'gcr.io/google-containers/busybox'),
      kfpVersion('2.2.0', `${KFP_V2_GCR}-driver@${KFP_DIGESTS.driver220}`, `${KFP_V2_GCR}-launcher@${KFP_DIGESTS.launcher220}`, 'gcr.io/google-containers/busybox'),
      kfpVersion('2.3.0', `${KFP_V2_GCR}-driver@${KFP_DIGESTS.driver230}`, `${KFP_V2_GCR}-launcher@${KFP_DIGESTS.launcher230}`, 'gcr.io/google-containers/busybox'),
      kfpVersion('2.4.1', 'ghcr.io/kubeflow/kfp-driver:2.4.1', 'ghcr.io/kubeflow/kfp-launcher:2.4.1', 'registry.k8s.io/busybox'),
      // From 2.5.0 the defaults are :latest, and every release sets both env vars to its own version.
      kfpVersion('2.5.0', 'ghcr.io/kubeflow/kfp-driver:latest', 'ghcr.io/kubeflow/kfp-launcher:latest', 'registry.k8s.io/busybox'),
      kfpVersion('2.15.0', 'ghcr.io/kubeflow/kfp-driver:latest', 'ghcr.io/kubeflow/kfp-launcher:latest', 'ghcr.io/containerd/busybox'),
      kfpVersion('2.16.0', 'ghcr.io/kubeflow/kfp-driver:latest', 'ghcr.io/kubeflow/kfp-launcher:latest', 'ghcr.io/containerd/busybox'),
    ],
    why: 'the API server compiles the driver and launcher into every run; the cache server, UI and viewer controller have defaults of their own',
  },
  {
    name: 'Argo Workflows',
    repositories: ARGO_WORKFLOWS,
    versions: [
      argoExecutor('v3.3.10-license-compliance', 'v3.3.10'),
      argoExecutor('v3.4.16-license-compliance', 'v3.4.16'),
      argoExecutor('v3.4.17-license-compliance', 'v3.4.17'),
      argoExecutor('v3.5.14', 'v3.5.14'),
      argoExecutor('v3.7.3', 'v3.7.3'),
    ],
    why: "the controller adds its executor to every workflow pod; KFP's -license-compliance images run the upstream binary",
  },
  {
    name: 'Training Operator v1',
    repositories: [TRAINING_OPERATOR, TRAINING_OPERATOR_GHCR],
    versions: [
      // Kubeflow v1.8.x: v1-855e096 is two commits before v1.7.0-rc.0, which ships this image.
      { tags: ['v1-855e096'], defaults: trainingOperatorDefaults(TRAINING_OPERATOR, '855e096', 'mpioperator/kubectl-delivery:latest') },
      // Kubeflow v1.9.0 and v1.9.1: the commits before v1.8.0 and v1.8.1.
      { tags: ['v1-9e52eb7', 'v1-04f9f13'], defaults: trainingOperatorDefaults(TRAINING_OPERATOR, '9e52eb7', 'kubeflow/kubectl-delivery:latest') },
      // v1-5c0e763 is v1.9.1 (meant for Kubeflow v1.10.0, which renders the image untagged), v1-3f15cb8 is v1.9.2.
      { tags: ['v1-5c0e763', 'v1-3f15cb8'], defaults: trainingOperatorDefaults(TRAINING_OPERATOR_GHCR, '3f15cb8', 'ghcr.io/kubeflow/training-v1/kubectl-delivery:latest') },
    ],
    why: 'the PyTorch and MPI controllers add init containers whose images only flags can replace',
  },
  {
    name: 'cert-manager',
    repositories: ['quay.io/jetstack/cert-manager-controller', 'quay.io/jetstack/cert-manager-cainjector', 'quay.io/jetstack/cert-manager-webhook'],
    versions: [
      { tags: ['v1.12.2'], defaults: [acmeSolver('v1.12.2', 'cmd/controller/app/options/options.go defaultACMEHTTP01SolverImage')] },
      ...['v1.14.5', 'v1.16.1', 'v1.19.4'].map((tag) => ({
        tags: [tag],
        defaults: [acmeSolver(tag, 'internal/apis/config/controller/v1alpha1/defaults.go defaultACMEHTTP01SolverImage (SetDefaults_ACMEHTTP01Config)')],
      })),
    ],
    why: 'the controller starts ACME HTTP-01 solver pods from a default its build stamps with its version',
  },
  {
    name: 'KServe',
    repositories: ['docker.io/kserve/kserve-controller', 'docker.io/kserve/kserve-localmodel-controller', 'docker.io/kserve/kserve-localmodelnode-agent', 'docker.io/kserve/llmisvc-controller'],
    versions: [
      // The controller's webhook reads every image from inferenceservice-config and fails on a missing section; its
      // storage initializer fallback (storage_initializer_injector.go StorageInitializerContainerImage) is unreachable.
      { tags: ['v0.11.1', 'v0.11.2', 'v0.13.0', 'v0.13.1', 'v0.15.0', 'v0.15.2', 'v0.16.0'], defaults: [] },
      {
        tags: ['v0.14.1'],
        defaults: [
          {
            controller: 'docker.io/kserve/kserve-localmodelnode-agent',
            image: 'kserve/storage-initializer:latest',
            tier: 'conditional',
            why: 'kserve/kserve@v0.14.1 pkg/controller/v1alpha1/localmodelnode/controller.go defaultJobImage: the model download jobs of the local model cache; localModel.defaultJobImage in inferenceservice-config is never read',
          },
        ],
      },
    ],
    why: 'the webhook injects the images inferenceservice-config names; the local model node agent downloads models with a compiled-in image',
  },
  {
    name: 'Kubeflow PVC viewer controller',
    repositories: ['docker.io/kubeflownotebookswg/pvcviewer-controller', 'ghcr.io/kubeflow/kubeflow/pvcviewer-controller'],
    versions: [
      {
        tags: ['v1.8.0', 'v1.9.0', 'v1.9.2', 'v1.10.0'],
        defaults: [pvcViewerDefault('docker.io/kubeflownotebookswg/pvcviewer-controller'), pvcViewerDefault('ghcr.io/kubeflow/kubeflow/pvcviewer-controller')],
      },
    ],
    why: 'its webhook fills in a viewer pod spec with a compiled-in image when a PVCViewer has none',
  },
  {
    name: 'Kubeflow notebook and TensorBoard controllers',
    repositories: [
      'docker.io/kubeflownotebookswg/notebook-controller',
      'docker.io/kubeflownotebookswg/tensorboard-controller',
      'ghcr.io/kubeflow/kubeflow/notebook-controller',
      'ghcr.io/kubeflow/kubeflow/tensorboard-controller',
    ],
    versions: 'any',
    why: 'notebooks run the image the user picks; the TensorBoard controller requires TENSORBOARD_IMAGE (its ConfigMap) and has no default',
  },
  {
    name: 'Istio',
    repositories: ['docker.io/istio/pilot', 'docker.io/istio/proxyv2', 'gcr.io/istio-release/pilot', 'gcr.io/istio-release/proxyv2', 'gcr.io/istio-release/install-cni'],
    versions: 'any',
    why: 'istiod compiles in only the name proxyv2 (pkg/kube/inject/inject.go ProxyImage); hub and tag come from the istio-sidecar-injector values, where discovery composes the proxy image',
  },
  {
    name: 'Kubeflow Trainer',
    repositories: ['ghcr.io/kubeflow/trainer/trainer-controller-manager'],
    versions: 'any',
    why: 'kubeflow/trainer@v2.1.0 has no image in its controller: every pod image comes from a ClusterTrainingRuntime or the TrainJob (pkg/runtime/framework/plugins/jobset/builder.go)',
  },
  {
    name: 'Katib controller',
    repositories: ['docker.io/kubeflowkatib/katib-controller', 'ghcr.io/kubeflow/katib/katib-controller'],
    versions: 'any',
    why: 'kubeflow/katib v0.16.0 to v0.19.0 compile no image in: suggestions, early stopping and metrics collectors must be named in katib-config, or the controller fails (pkg/util/v1beta1/katibconfig/config.go)',
  },
  {
    name: 'Spark operator',
    repositories: ['docker.io/kubeflow/spark-operator', 'ghcr.io/kubeflow/spark-operator/controller'],
    versions: 'any',
    why: 'kubeflow/spark-operator 2.1.1 to 2.5.0 compile no image in: drivers and executors run the image each SparkApplication names',
  },
  {
    name: 'JobSet',
    repositories: ['registry.k8s.io/jobset/jobset', 'us-central1-docker.pkg.dev/k8s-staging-images/jobset/jobset'],
    versions: 'any',
    why: 'kubernetes-sigs/jobset@v0.10.1 compiles no image in: a JobSet runs the images of its job templates',
  },
];

export const COMPONENT_TABLE: readonly Component[] = [...COMPILES_IMAGES_IN, ...NAMES_EVERY_IMAGE];
