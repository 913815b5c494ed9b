// The components of Kubeflow releases v1.8.0 to 26.03, and the images each pulls from compiled-in defaults, by version.
// How to add a component or a version: docs/image-discovery.md ("The component table"). Every `why` says where
// upstream keeps the default (repository@tag, file, symbol), so the next version can be checked the same way.

import type { CompiledDefault, Component } from './component-defaults.js';

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
    name: 'Kubeflow Pipelines servers',
    repositories: [
      'gcr.io/ml-pipeline/frontend',
      'gcr.io/ml-pipeline/metadata-envoy',
      'gcr.io/ml-pipeline/metadata-writer',
      'gcr.io/ml-pipeline/persistenceagent',
      'gcr.io/ml-pipeline/scheduledworkflow',
      'gcr.io/ml-pipeline/visualization-server',
      'gcr.io/tfx-oss-public/ml_metadata_store_server',
      'ghcr.io/kubeflow/kfp-frontend',
      'ghcr.io/kubeflow/kfp-metadata-envoy',
      'ghcr.io/kubeflow/kfp-metadata-writer',
      'ghcr.io/kubeflow/kfp-persistence-agent',
      'ghcr.io/kubeflow/kfp-scheduled-workflow-controller',
      'ghcr.io/kubeflow/kfp-visualization-server',
    ],
    versions: 'any',
    why: 'they watch and record runs; the pods of a run are the workflow the API server compiles (see its entry)',
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
    override: { env: 'DEFAULT_POD_SPEC_PATH' },
    tier: 'conditional',
    why: 'kubeflow/kubeflow components/pvcviewer-controller/api/v1alpha1/pvcviewer_webhook.go PVCViewer.Default(): only a PVCViewer created without spec.podSpec (the volumes web app always sends one)',
  };
}

/** Controllers that pull images from compiled-in defaults, or could: each version checked against upstream. */
const COMPILES_IMAGES_IN: readonly Component[] = [
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
