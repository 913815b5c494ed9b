#!/usr/bin/env bash
# install.sh --seed-registry: a registry inside the cluster, filled from this bundle, that every node pulls from
# through its own 127.0.0.1. The registry is the CNCF Distribution image the bundle carries in its own archive, so only
# this node loads an image; it runs pinned to one node and is reached through a NodePort, which kube-proxy serves on
# 127.0.0.1 of every node, and container runtimes pull from a loopback registry over plain HTTP without any
# configuration. No node is configured and no webhook runs: the manifests already name 127.0.0.1:PORT (relocated from
# registry-manifests/). While the bundle is pushed, the registry answers only under a random path that this run alone
# knows (distribution's http.prefix; never printed or written to disk here); then it restarts read-only at /v2/, where
# pulls need no credentials and every push is refused.

SEED_NAMESPACE=kfbundle-registry
SEED_NAME=kfbundle-registry
# In the default NodePort range (30000-32767), away from its start where clusters' own services tend to sit.
SEED_DEFAULT_PORT=31500
SEED_HOST_PATH=/var/lib/kfbundle-registry
SEED_CONFIG_DIR=/etc/kfbundle-registry

seed=no
seed_node=''
seed_port=$SEED_DEFAULT_PORT
seed_storage_class=''
seed_storage_size=''
# Set once this run has seeded the registry: what seed_report describes.
seed_done=no

# The seed options as install.sh's option loop set them, checked.
seed_check_options() {
  [ "$seed" = yes ] || return 0
  need_number --registry-port "$seed_port"
  seed_port=$((10#$seed_port))
  [ "$seed_port" -ge 1 ] && [ "$seed_port" -le 65535 ] || die "--registry-port must be a port number, got '$seed_port'"
  if [ -n "$seed_storage_size" ] && ! [[ "$seed_storage_size" =~ ^[1-9][0-9]*(Mi|Gi|Ti)$ ]]; then
    die "--registry-storage-size needs a size like 40Gi, got '$seed_storage_size'"
  fi
  [ "$registry_given" = no ] || die "--seed-registry pushes to the registry it runs inside the cluster: drop --registry $registry (or drop --seed-registry to push there)"
  [ -n "$SEED_REGISTRY_IMAGE" ] || die "this bundle was built without the seed registry image (kfbundle build --no-seed-registry): rebuild it without that option, or load images on every node (--images-only), or push them to a registry (--registry)"
  if [ -n "$seed_storage_size" ] && [ -z "$seed_storage_class" ]; then die "--registry-storage-size sizes the volume of --registry-storage-class: give both, or neither for the node's disk"; fi
  if [ "$seed_port" -lt 30000 ] || [ "$seed_port" -gt 32767 ]; then
    warn "--registry-port $seed_port is outside Kubernetes' default NodePort range (30000-32767): the Service is refused unless the API server's --service-node-port-range includes it"
  fi
  # The registry's address as the manifests will name it.
  registry=127.0.0.1:$seed_port
}

# The node the registry runs on: --registry-node, else this machine when it is a node of the cluster (this_node_name).
seed_pick_node() {
  if [ -n "$seed_node" ]; then
    kubectl get node "$seed_node" >/dev/null 2>&1 || die "--registry-node $seed_node is not a node of this cluster (kubectl get nodes lists them)"
    return 0
  fi
  seed_node=$(this_node_name)
  if [ -n "$seed_node" ]; then
    say "registry node: $seed_node (this machine)"
    return 0
  fi
  die "this machine ($(uname -n)) is not a node of the cluster by that name (set KFB_NODE_NAME if its kubelet uses another): run on a node, or name the one to host the registry with --registry-node NODE (its images are loaded here, so run this on that node)"
}

# kube-proxy serves NodePorts on 127.0.0.1 in iptables mode (its default, via route_localnet); in ipvs and nftables
# modes it does not, and every node's pull would find nothing there.
seed_check_kube_proxy() {
  local config mode
  config=$(kubectl -n kube-system get configmap kube-proxy -o 'go-template={{index .data "config.conf"}}' 2>/dev/null) || config=''
  mode=$(printf '%s\n' "$config" | sed -n 's/^mode:[[:space:]]*["'\'']\{0,1\}\([a-z]*\).*$/\1/p' | head -n 1)
  case "$mode" in
    ipvs|nftables)
      die "kube-proxy runs in $mode mode, which does not serve NodePorts on 127.0.0.1, so nodes could not pull from the seeded registry: push to a registry every node can reach instead (--registry HOST[:PORT]), or switch kube-proxy to iptables mode" ;;
    '')
      if [ -n "$config" ]; then say "kube-proxy mode: its default, iptables (serves NodePorts on 127.0.0.1)"; return 0; fi
      say "kube-proxy's mode is not readable (kube-system/kube-proxy ConfigMap): the registry is checked through 127.0.0.1:$seed_port on this node before anything is pushed" ;;
    *) say "kube-proxy mode: $mode (serves NodePorts on 127.0.0.1)" ;;
  esac
}

seed_random_hex() { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# The registry's configuration: seeding (served only under /<path>/, no access log, which would print the path) or
# read-only (served at /v2/; pushes refused). Upload purging writes, so it is off in both.
seed_config() {
  local mode=$1 path=${2:-}
  cat <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: $([ "$mode" = seeding ] && echo true || echo false)
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  maintenance:
    uploadpurging:
      enabled: false
    readonly:
      enabled: $([ "$mode" = read-only ] && echo true || echo false)
http:
  addr: :5000
  secret: $(seed_random_hex)
EOF
  if [ "$mode" = seeding ]; then printf '  prefix: /%s/\n' "$path"; fi
}

seed_volume() {
  if [ -n "$seed_storage_class" ]; then
    printf '        - name: storage\n          persistentVolumeClaim:\n            claimName: %s\n' "$SEED_NAME"
  else
    printf '        - name: storage\n          hostPath:\n            path: %s\n            type: DirectoryOrCreate\n' "$SEED_HOST_PATH"
  fi
}

# Bytes of every image archive, with room for a second bundle: the default size of a new volume.
seed_default_size() {
  local bytes=0 size file
  while IFS= read -r file; do
    size=$(stat -c %s "$file" 2>/dev/null || wc -c < "$file")
    bytes=$((bytes + size))
  done < <(find "$(dirname "$IMAGE_PUSH")" -type f -name '*.tar*')
  printf '%sGi' $(((bytes * 2 + (1 << 30) - 1) >> 30))
}

# A volume's size can grow but never shrink, so a claim that exists (an earlier bundle's) is kept as it is.
seed_apply_claim() {
  [ -n "$seed_storage_class" ] || return 0
  if kubectl -n "$SEED_NAMESPACE" get persistentvolumeclaim "$SEED_NAME" >/dev/null 2>&1; then return 0; fi
  local size=${seed_storage_size:-$(seed_default_size)}
  say "requesting a $size volume of storage class $seed_storage_class"
  kubectl apply --server-side --force-conflicts -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: $SEED_NAME
  namespace: $SEED_NAMESPACE
  labels: {app.kubernetes.io/name: $SEED_NAME, app.kubernetes.io/managed-by: kfbundle}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: $seed_storage_class
  resources:
    requests:
      storage: $size
EOF
}

# The namespace, the configuration (a Secret: while seeding it holds the path), the Deployment pinned to the node and
# the NodePort Service. A new run id in the pod template restarts the registry with the configuration just written.
seed_apply() {
  local mode=$1 path=${2:-} hostname_label config
  hostname_label=$(kubectl get node "$seed_node" -o 'go-template={{index .metadata.labels "kubernetes.io/hostname"}}' 2>/dev/null) || hostname_label=''
  case "$hostname_label" in ''|'<no value>') hostname_label=$seed_node ;; esac
  config=$(seed_config "$mode" "$path" | base64 | tr -d '\n')
  kubectl apply --server-side --force-conflicts -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $SEED_NAMESPACE
  labels: {app.kubernetes.io/name: $SEED_NAME, app.kubernetes.io/managed-by: kfbundle}
EOF
  seed_apply_claim
  kubectl apply --server-side --force-conflicts -f - >/dev/null <<EOF
apiVersion: v1
kind: Secret
metadata:
  name: $SEED_NAME-config
  namespace: $SEED_NAMESPACE
  labels: {app.kubernetes.io/name: $SEED_NAME, app.kubernetes.io/managed-by: kfbundle}
type: Opaque
data:
  config.yml: $config
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $SEED_NAME
  namespace: $SEED_NAMESPACE
  labels: {app.kubernetes.io/name: $SEED_NAME, app.kubernetes.io/managed-by: kfbundle}
spec:
  replicas: 1
  # One registry writes the storage at a time.
  strategy: {type: Recreate}
  selector:
    matchLabels: {app.kubernetes.io/name: $SEED_NAME}
  template:
    metadata:
      labels: {app.kubernetes.io/name: $SEED_NAME}
      annotations:
        kfbundle.io/registry-mode: $mode
        kfbundle.io/run: "$(seed_random_hex)"
    spec:
      nodeSelector:
        kubernetes.io/hostname: "$hostname_label"
      # Its image is on that node only, so it runs there whatever the node's taints.
      tolerations:
        - operator: Exists
      containers:
        - name: registry
          image: $SEED_REGISTRY_IMAGE
          imagePullPolicy: Never
          command: [/bin/registry]
          args: [serve, $SEED_CONFIG_DIR/config.yml]
          ports:
            - {name: registry, containerPort: 5000}
          readinessProbe:
            tcpSocket: {port: 5000}
            periodSeconds: 2
          volumeMounts:
            - {name: config, mountPath: $SEED_CONFIG_DIR, readOnly: true}
            - {name: storage, mountPath: /var/lib/registry}
      volumes:
        - name: config
          secret:
            secretName: $SEED_NAME-config
$(seed_volume)
---
apiVersion: v1
kind: Service
metadata:
  name: $SEED_NAME
  namespace: $SEED_NAMESPACE
  labels: {app.kubernetes.io/name: $SEED_NAME, app.kubernetes.io/managed-by: kfbundle}
spec:
  type: NodePort
  selector: {app.kubernetes.io/name: $SEED_NAME}
  ports:
    - {name: registry, port: 5000, targetPort: 5000, nodePort: $seed_port}
EOF
}

# The registry's answer to GET 127.0.0.1:PORT<path>/v2/, polled until it is `want`: the Deployment is Available before
# kube-proxy routes to the new pod, and the old pod may still answer. Prints nothing of the path.
seed_wait_answer() {
  local path=$1 want=$2 what=$3 deadline=$((SECONDS + timeout)) code
  while :; do
    code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$seed_port$path/v2/" 2>/dev/null) || code=000
    [ "$code" = "$want" ] && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      die "the seed registry did not answer through 127.0.0.1:$seed_port as $what within ${timeout}s (last answer: HTTP $code): check kubectl -n $SEED_NAMESPACE describe pod, and that kube-proxy serves NodePorts on 127.0.0.1 (iptables mode); raise --timeout if the node is slow"
    fi
    sleep 1
  done
}

seed_rollout() {
  local mode=$1 path=${2:-}
  seed_apply "$mode" "$path"
  say "  waiting up to ${timeout}s for deployment $SEED_NAMESPACE/$SEED_NAME Available ($mode)"
  kubectl -n "$SEED_NAMESPACE" wait --for=condition=Available "deployment/$SEED_NAME" --timeout="${timeout}s" >/dev/null ||
    die "deployment $SEED_NAMESPACE/$SEED_NAME did not become Available within ${timeout}s: check kubectl -n $SEED_NAMESPACE describe pod (is $SEED_REGISTRY_IMAGE on node $seed_node?)"
}

# containerd pulls a loopback registry over plain HTTP unless a hosts.toml for it (or the default one) names an https
# server; this node's configuration is checked, the other nodes' cannot be from here.
seed_check_containerd_hosts() {
  local dir=/etc/containerd/certs.d file
  for file in "$dir/127.0.0.1:$seed_port/hosts.toml" "$dir/_default/hosts.toml"; do
    [ -f "$file" ] || continue
    if grep -Eq '^[[:space:]]*server[[:space:]]*=[[:space:]]*"https://' "$file"; then
      warn "$file names an https server, so containerd on this node would pull 127.0.0.1:$seed_port over HTTPS and fail: remove that server line, or add $dir/127.0.0.1:$seed_port/hosts.toml with server = \"http://127.0.0.1:$seed_port\" (on every node that has such a file)"
    fi
  done
}

# The registry's image into this node's runtime: nothing else of the bundle is loaded here.
seed_load_image() {
  # The registry runs here: its image is of the bundle's platform (of a bundle of several, this node's).
  check_node_platform
  if [ -n "$PLATFORM_IMAGE_DIRS" ]; then
    local dir
    dir=$(node_platform_dir) || exit 1
    SEED_REGISTRY_ARCHIVE="$dir/$(basename "$SEED_REGISTRY_ARCHIVE")"
  fi
  [ -n "$(archive_files "$SEED_REGISTRY_ARCHIVE")" ] || die "$SEED_REGISTRY_ARCHIVE is not in the bundle"
  pick_runtime
  case "$runtime" in
    docker)
      command -v docker >/dev/null || die "docker not found on this node (use --runtime containerd on containerd nodes)"
      docker_load "$SEED_REGISTRY_ARCHIVE" || die "docker load failed for $SEED_REGISTRY_ARCHIVE"
      docker image inspect "$SEED_REGISTRY_IMAGE" >/dev/null 2>&1 || die "after loading, Docker lacks $SEED_REGISTRY_IMAGE"
      ;;
    containerd)
      command -v ctr >/dev/null || die "ctr not found on this node (it comes with containerd)"
      seed_check_containerd_hosts
      ctr_import "$SEED_REGISTRY_ARCHIVE" "$CONTAINERD_NAMESPACE" || die "ctr images import failed for $SEED_REGISTRY_ARCHIVE"
      ctr -n "$CONTAINERD_NAMESPACE" images ls -q | grep -qxF "$SEED_REGISTRY_IMAGE" || die "after importing, containerd lacks $SEED_REGISTRY_IMAGE"
      ;;
  esac
  say "registry image $SEED_REGISTRY_IMAGE loaded into $runtime on this node"
}

# A delta bundle seeds a registry its base seeded before: each base layer it leaves out must be served there already
# (read-only, no credentials needed), checked before the registry is switched to seeding, which a missing base would
# leave it in, under a path nobody knows.
seed_check_base() {
  [ -n "$BASE_BUNDLE" ] || return 0
  local kind archive offset size digest repos repo code missing=0 first=''
  while IFS=$'\t' read -r kind archive offset size digest repos; do
    [ "$kind" = base ] || continue
    code=000
    for repo in $repos; do
      code=$(curl -s -o /dev/null -m 10 -w '%{http_code}' --head "http://127.0.0.1:$seed_port/v2/$repo/blobs/$digest" 2>/dev/null) || code=000
      [ "$code" != 200 ] || break
    done
    if [ "$code" != 200 ]; then missing=$((missing + 1)); first=${first:-$digest}; fi
  done < "$IMAGE_PUSH"
  [ "$missing" -eq 0 ] ||
    die "this is a delta bundle on $BASE_BUNDLE, and the registry at 127.0.0.1:$seed_port does not serve $missing of the base's layers (the first: $first): seed the base bundle first (its install.sh --seed-registry --registry-port $seed_port), then this one; nothing was changed"
}

# A push to the read-only registry must be refused; one that is not would leave the cluster's images writable.
seed_check_read_only() {
  local code
  code=$(curl -s -o /dev/null -m 10 -w '%{http_code}' -X POST "http://127.0.0.1:$seed_port/v2/kfbundle-probe/blobs/uploads/" 2>/dev/null) || code=000
  case "$code" in
    401|403|405) say "registry is read-only: a push is refused (HTTP $code); pulls need no credentials" ;;
    *) die "the seed registry accepted the start of a push after seeding (HTTP $code): it is not read-only; remove it (kubectl delete namespace $SEED_NAMESPACE) and report this" ;;
  esac
}

seed_registry() {
  command -v kubectl >/dev/null || die "kubectl not found: --seed-registry runs the registry in the cluster"
  command -v curl >/dev/null || die "curl not found: --seed-registry pushes with it"
  [ -f "$IMAGE_PUSH" ] || die "this bundle has no $IMAGE_PUSH (built with --source engine): --seed-registry pushes the archives' blobs as the registries served them; rebuild from registries (the default source)"
  if [ -n "$PLATFORM_IMAGE_DIRS" ]; then find_every_platform_archive; else find_archives || die "this bundle has no images to seed a registry with"; fi
  seed_pick_node
  seed_check_kube_proxy
  seed_check_base
  warn_other_architectures
  seed_load_image
  local path
  path=$(seed_random_hex)
  say "starting the seed registry on node $seed_node, NodePort $seed_port (writable only by this run until it is filled)"
  seed_rollout seeding "$path"
  seed_wait_answer "/$path" 200 "the seeding registry"
  http_root=/$path
  plain_http=yes
  http_resume="$0 --seed-registry --registry-node $seed_node --registry-port $seed_port"
  http_push_images
  http_root=''
  path=''
  say "switching the seed registry to read-only"
  seed_rollout read-only
  seed_wait_answer '' 200 "the read-only registry"
  seed_check_read_only
  seed_done=yes
}

seed_report() {
  [ "$seed_done" = yes ] || return 0
  say "seed registry: deployment $SEED_NAMESPACE/$SEED_NAME on node $seed_node, NodePort $seed_port, read-only; every node pulls through 127.0.0.1:$seed_port"
  if [ -n "$seed_storage_class" ]; then
    say "  its images are on volume $SEED_NAMESPACE/$SEED_NAME (storage class $seed_storage_class)"
  else
    say "  its images are in $SEED_HOST_PATH on node $seed_node"
  fi
  say "  a later bundle adds to it: run its install.sh --seed-registry with the same --registry-port${seed_node:+ and --registry-node $seed_node}"
  say "  to remove it (workloads then cannot pull their images): kubectl delete namespace $SEED_NAMESPACE$([ -n "$seed_storage_class" ] || printf '; then on node %s: rm -rf %s' "$seed_node" "$SEED_HOST_PATH")"
}
