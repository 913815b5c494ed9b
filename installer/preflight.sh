#!/usr/bin/env bash
# shellcheck shell=bash
# kfbundle installer part: the preflight, run before anything is loaded or applied (and alone with --preflight).
# Inlined into install.sh (core/installer-parts.ts). It asks the cluster what an install would otherwise find out an
# hour later with kubectl describe: does kubectl reach it, is its Kubernetes a version the release supports, is there a
# default StorageClass for the claims that name none, do the ready nodes offer the CPU and memory the bundle's pods
# request, and has this node the disk to load the images. Each check is recorded (pass, fail, warn or skip) with what
# is wrong and the fix; --force goes on past failures, listing them.
#
# The bundle's figures were summed when it was built (core/cluster-requirements.ts): KUBERNETES_RANGE (MIN-MAX),
# REQUIRED_CPU_MILLIS, REQUIRED_MEMORY_BYTES, PER_NODE_CPU_MILLIS, PER_NODE_MEMORY_BYTES (a DaemonSet's pods, on every
# node), LARGEST_POD (`object cpu-millis memory-bytes`) and DEFAULT_CLASS_CLAIMS (namespace/name words).
# Uses install.sh's say/warn/die, json_string, pick_runtime, node_platform_dir, archive_files, and its globals images,
# manifests, registry, seed, force, json, runtime.

preflight_names=()
preflight_states=()
preflight_messages=()
preflight_fixes=()

# NAME STATE MESSAGE [FIX]: STATE is pass, fail, warn or skip.
preflight_record() {
  preflight_names+=("$1")
  preflight_states+=("$2")
  preflight_messages+=("$3")
  preflight_fixes+=("${4:-}")
}

# Quantities as the API server prints them (250m, 4, 1.5, 16318412Ki, 64Gi, 1e3), one a line, as whole millicores
# (cpu) or bytes (memory), rounded down: what a node offers is never overstated. A missing one (`<no value>`) is 0.
quantities_in() {
  awk -v unit="$1" '
    function value(q,   number, suffix, factor) {
      if (q == "" || q == "<no value>") return 0
      if (q ~ /^[0-9.]+[eE][-+]?[0-9]+$/) return q + 0
      number = q; sub(/[A-Za-z]+$/, "", number); suffix = substr(q, length(number) + 1)
      factor = 1
      if (suffix == "m") factor = 0.001; else if (suffix == "k") factor = 1e3; else if (suffix == "M") factor = 1e6
      else if (suffix == "G") factor = 1e9; else if (suffix == "T") factor = 1e12; else if (suffix == "P") factor = 1e15
      else if (suffix == "Ki") factor = 1024; else if (suffix == "Mi") factor = 1048576; else if (suffix == "Gi") factor = 1073741824
      else if (suffix == "Ti") factor = 1099511627776; else if (suffix == "Pi") factor = 1125899906842624
      return number * factor
    }
    { v = value($0); if (unit == "cpu") v = v * 1000; printf "%.0f\n", int(v + 1e-6) }'
}

# `1 node`, `2 nodes`.
plural() { if [ "$1" -eq 1 ]; then printf '1 %s' "$2"; else printf '%s %ss' "$1" "$2"; fi; }

# Millicores as `kubectl describe node` shows them: 4, 5.3 or 250m.
format_cpu() {
  awk -v m="$1" 'BEGIN { if (m % 1000 == 0) printf "%d", m / 1000; else if (m >= 1000) printf "%.1f", m / 1000; else printf "%dm", m }'
}

# Bytes in Gi (or Mi below one Gi).
format_memory() {
  awk -v b="$1" 'BEGIN { if (b >= 1073741824) printf "%.1fGi", b / 1073741824; else printf "%dMi", (b + 1048575) / 1048576 }'
}

preflight_cluster_version() {
  local raw version
  if ! raw=$(kubectl get --raw /version 2>&1); then
    preflight_record cluster fail "kubectl cannot reach the cluster: $(printf '%s\n' "$raw" | tail -n 1)" \
      "check that KUBECONFIG (${KUBECONFIG:-unset: ~/.kube/config}) names this cluster and that 'kubectl get nodes' works from this machine"
    return 1
  fi
  version=$(printf '%s\n' "$raw" | sed -n 's/.*"gitVersion": *"v\{0,1\}\([0-9]*\.[0-9]*\)[^"]*".*/\1/p' | head -n 1)
  preflight_record cluster pass "kubectl reaches the cluster (Kubernetes ${version:-of an unknown version})"
  if [ -z "$KUBERNETES_RANGE" ]; then
    preflight_record kubernetes-version skip "the bundle records no supported Kubernetes versions (built without a curated bundle spec)"
    return 0
  fi
  local min=${KUBERNETES_RANGE%-*} max=${KUBERNETES_RANGE#*-}
  if [ -z "$version" ]; then
    preflight_record kubernetes-version warn "could not read the server's version from /version; the release supports Kubernetes $min to $max"
    return 0
  fi
  if minor_before "$version" "$min"; then
    preflight_record kubernetes-version fail "the cluster runs Kubernetes $version; this release supports $min to $max: APIs its manifests use may be missing" \
      "upgrade the cluster to Kubernetes $min or newer, or install a Kubeflow release made for $version (--force installs anyway, untested)"
  elif minor_before "$max" "$version"; then
    preflight_record kubernetes-version fail "the cluster runs Kubernetes $version; this release supports $min to $max: newer than it was tested on, and APIs it uses may be gone" \
      "install a newer Kubeflow release, or a cluster of Kubernetes $min to $max (--force installs anyway, untested)"
  else
    preflight_record kubernetes-version pass "Kubernetes $version is within what the release supports ($min to $max)"
  fi
}

# Whether MAJOR.MINOR $1 comes before $2.
minor_before() {
  local a_major=${1%%.*} a_minor=${1#*.} b_major=${2%%.*} b_minor=${2#*.}
  [ "$a_major" -lt "$b_major" ] || { [ "$a_major" -eq "$b_major" ] && [ "$a_minor" -lt "$b_minor" ]; }
}

# The cluster's StorageClasses: name, and whether it is marked default (`true`), a line each.
storage_classes() {
  # Each annotation printed only when set: a missing key prints `<no value>`, which would hide the beta one's `true`.
  kubectl get storageclasses -o 'go-template={{range .items}}{{.metadata.name}}{{"\t"}}{{with .metadata.annotations}}{{with index . "storageclass.kubernetes.io/is-default-class"}}{{.}}{{end}}{{with index . "storageclass.beta.kubernetes.io/is-default-class"}}{{.}}{{end}}{{end}}{{"\n"}}{{end}}'
}

# The default StorageClasses' names, space-separated.
default_storage_classes() {
  local classes
  classes=$(storage_classes) || return 1
  printf '%s\n' "$classes" | awk -F'\t' '$2 ~ /^true/ { print $1 }' | paste -sd ' ' -
}

preflight_storage_class() {
  if [ -z "$DEFAULT_CLASS_CLAIMS" ]; then
    preflight_record storage-class skip "no claim of the bundle relies on a default StorageClass"
    return 0
  fi
  local classes defaults names claims count
  local errors
  errors=$(mktemp "${TMPDIR:-/tmp}/kfbundle-preflight.XXXXXX")
  if ! classes=$(storage_classes 2>"$errors"); then
    preflight_record storage-class warn "could not list StorageClasses: $(tail -n 1 "$errors")"
    rm -f "$errors"
    return 0
  fi
  rm -f "$errors"
  defaults=$(printf '%s\n' "$classes" | awk -F'\t' '$2 ~ /^true/ { print $1 }' | paste -sd ' ' -)
  names=$(printf '%s\n' "$classes" | awk -F'\t' '$1 != "" { print $1 }' | paste -sd ' ' -)
  count=$(wc -w <<< "$DEFAULT_CLASS_CLAIMS")
  claims=${DEFAULT_CLASS_CLAIMS// /, }
  local patch="kubectl patch storageclass NAME -p '{\"metadata\":{\"annotations\":{\"storageclass.kubernetes.io/is-default-class\":\"true\"}}}'"
  if [ -z "$defaults" ] && [ -n "$names" ]; then
    preflight_record storage-class fail "no default StorageClass for the bundle's claims that name no class ($claims): they would stay Pending, and the pods that mount them with them" \
      "make one of this cluster's classes ($names) the default: ${patch/NAME/${names%% *}}"
  elif [ -z "$defaults" ]; then
    preflight_record storage-class fail "the cluster has no StorageClass at all: the bundle's claims that name no class ($claims) would stay Pending, and the pods that mount them with them" \
      "install a storage provisioner (its images loaded on every node: it cannot pull them here) and make its class the default: $patch"
  elif [ "$(wc -w <<< "$defaults")" -gt 1 ]; then
    preflight_record storage-class warn "several StorageClasses are marked default ($defaults): the newest one provisions the bundle's claims that name no class ($(plural "$count" claim))"
  else
    preflight_record storage-class pass "default StorageClass $defaults provisions the bundle's claims that name no class ($(plural "$count" claim))"
  fi
}

# Ready, schedulable nodes and what they offer: NAME CPU-MILLIS MEMORY-BYTES a line. A node tainted NoSchedule or
# NoExecute (a control plane's, usually) takes none of the bundle's pods, which tolerate no such taint.
preflight_usable_nodes() {
  local listing
  listing=$(kubectl get nodes -o 'go-template={{range .items}}{{.metadata.name}}{{"\t"}}{{.status.allocatable.cpu}}{{"\t"}}{{.status.allocatable.memory}}{{"\t"}}{{range .status.conditions}}{{if eq .type "Ready"}}{{.status}}{{end}}{{end}}{{"\t"}}{{if .spec.unschedulable}}cordoned{{end}}{{range .spec.taints}}{{if or (eq .effect "NoSchedule") (eq .effect "NoExecute")}}tainted{{end}}{{end}}{{"\n"}}{{end}}') || return 1
  local usable
  usable=$(printf '%s\n' "$listing" | awk -F'\t' '$1 != "" && $4 == "True" && $5 == ""')
  [ -n "$usable" ] || return 0
  paste <(cut -f1 <<< "$usable") <(cut -f2 <<< "$usable" | quantities_in cpu) <(cut -f3 <<< "$usable" | quantities_in memory)
}

# `node-1 4, node-2 8`: what each node offers of cpu or memory, for messages.
nodes_offer() {
  local name cpu memory list=''
  while IFS=$'\t' read -r name cpu memory; do
    if [ "$1" = cpu ]; then list+="${list:+, }$name $(format_cpu "$cpu")"; else list+="${list:+, }$name $(format_memory "$memory")"; fi
  done <<< "$2"
  printf '%s' "$list"
}

preflight_capacity() {
  local nodes count have_cpu have_memory need_cpu need_memory per_node beside=''
  local errors
  errors=$(mktemp "${TMPDIR:-/tmp}/kfbundle-preflight.XXXXXX")
  # kubectl's stderr kept apart: a warning it prints must not be read as a node.
  if ! nodes=$(preflight_usable_nodes 2>"$errors"); then
    preflight_record nodes warn "could not list the nodes: $(tail -n 1 "$errors")"
    rm -f "$errors"
    return 0
  fi
  rm -f "$errors"
  if [ -z "$nodes" ]; then
    preflight_record nodes fail "no node is Ready, schedulable and untainted: no pod of the bundle could start" "kubectl get nodes shows why (NotReady: the kubelet or the network plugin; SchedulingDisabled: kubectl uncordon NODE); kubectl describe nodes shows taints (a single-node cluster: kubectl taint nodes NODE node-role.kubernetes.io/control-plane:NoSchedule-)"
    return 0
  fi
  count=$(wc -l <<< "$nodes")
  preflight_record nodes pass "$(plural "$count" node) Ready, schedulable and untainted: $(awk -F'\t' '{ printf "%s%s", sep, $1; sep = ", " }' <<< "$nodes")"
  have_cpu=$(awk -F'\t' '{ s += $2 } END { printf "%.0f", s }' <<< "$nodes")
  have_memory=$(awk -F'\t' '{ s += $3 } END { printf "%.0f", s }' <<< "$nodes")
  need_cpu=$((REQUIRED_CPU_MILLIS + PER_NODE_CPU_MILLIS * count))
  need_memory=$((REQUIRED_MEMORY_BYTES + PER_NODE_MEMORY_BYTES * count))
  per_node=''
  if [ "$PER_NODE_CPU_MILLIS$PER_NODE_MEMORY_BYTES" != 00 ]; then per_node=", DaemonSets' pods counted on each node"; fi
  if [ "$need_cpu" -gt "$have_cpu" ]; then
    preflight_record cpu fail "not enough CPU: the bundle's pods request $(format_cpu "$need_cpu") CPU$per_node; the ready nodes offer $(format_cpu "$have_cpu") allocatable ($(nodes_offer cpu "$nodes")): short by $(format_cpu $((need_cpu - have_cpu)))" \
      "add nodes or CPU ($(format_cpu $((need_cpu - have_cpu))) more allocatable), or leave components out of the bundle; --force installs anyway, and the pods that do not fit stay Pending"
  else
    preflight_record cpu pass "the bundle's pods request $(format_cpu "$need_cpu") CPU$per_node; the ready nodes offer $(format_cpu "$have_cpu")"
  fi
  if [ "$need_memory" -gt "$have_memory" ]; then
    preflight_record memory fail "not enough memory: the bundle's pods request $(format_memory "$need_memory")$per_node; the ready nodes offer $(format_memory "$have_memory") allocatable ($(nodes_offer memory "$nodes")): short by $(format_memory $((need_memory - have_memory)))" \
      "add nodes or memory ($(format_memory $((need_memory - have_memory))) more allocatable), or leave components out of the bundle; --force installs anyway, and the pods that do not fit stay Pending"
  else
    preflight_record memory pass "the bundle's pods request $(format_memory "$need_memory") of memory$per_node; the ready nodes offer $(format_memory "$have_memory")"
  fi
  [ -n "$LARGEST_POD" ] || return 0
  local pod pod_cpu pod_memory fits
  read -r pod pod_cpu pod_memory <<< "$LARGEST_POD"
  # It shares its node with the DaemonSets' pods.
  pod_cpu=$((pod_cpu + PER_NODE_CPU_MILLIS))
  pod_memory=$((pod_memory + PER_NODE_MEMORY_BYTES))
  if [ -n "$per_node" ]; then beside=" with the DaemonSets' pods beside it"; fi
  fits=$(awk -F'\t' -v c="$pod_cpu" -v m="$pod_memory" '$2 >= c && $3 >= m { print $1; exit }' <<< "$nodes")
  if [ -z "$fits" ]; then
    preflight_record largest-pod fail "no single node can run $pod, which$beside requests $(format_cpu "$pod_cpu") CPU and $(format_memory "$pod_memory"): no node offers more than $(format_cpu "$(awk -F'\t' '$2 > m { m = $2 } END { print m + 0 }' <<< "$nodes")") CPU, nor more than $(format_memory "$(awk -F'\t' '$3 > m { m = $3 } END { printf "%.0f", m }' <<< "$nodes")")" \
      "give one node at least $(format_cpu "$pod_cpu") CPU and $(format_memory "$pod_memory") allocatable; --force installs anyway, and that pod stays Pending"
  else
    preflight_record largest-pod pass "the largest pod, $pod, fits on $fits$beside ($(format_cpu "$pod_cpu") CPU, $(format_memory "$pod_memory"))"
  fi
}

# Bytes of one archives.txt's archives (all their parts).
archives_bytes() {
  local stage archive file total=0
  while IFS=$'\t' read -r stage archive; do
    [ -n "$archive" ] || continue
    while IFS= read -r file; do
      total=$((total + $(stat -c %s "$file")))
    done < <(archive_files "$archive")
  done < "$1"
  printf '%s' "$total"
}

# Where the runtime keeps images: Docker's root (docker info), containerd's (KFB_CONTAINERD_ROOT, default
# /var/lib/containerd); the nearest directory that exists, for df.
runtime_root() {
  local dir
  if [ "$runtime" = docker ]; then dir=$(docker info --format '{{.DockerRootDir}}' 2>/dev/null) || dir=''; else dir=${KFB_CONTAINERD_ROOT:-/var/lib/containerd}; fi
  [ -n "$dir" ] || return 1
  while [ ! -d "$dir" ] && [ "$dir" != / ]; do dir=$(dirname "$dir"); done
  printf '%s' "$dir"
}

preflight_disk() {
  local list=$IMAGE_ARCHIVES dir bytes root free
  if [ -n "$PLATFORM_IMAGE_DIRS" ]; then
    # Asked in a subshell: node_platform_dir stops the run for a node of no platform of the bundle, this check's failure.
    if ! dir=$(node_platform_dir 2>/dev/null); then
      preflight_record disk fail "this bundle holds images for $(bundle_platforms) and this node is linux/$(node_architecture) (uname -m: $(uname -m)): none of them runs here" \
        "use a bundle built with kfbundle build --platform that includes linux/$(node_architecture)"
      return 0
    fi
    list="$dir/$(basename "$IMAGE_ARCHIVES")"
  fi
  if [ ! -f "$list" ]; then preflight_record disk skip "no images to load on this node"; return 0; fi
  # Asked in a subshell first: pick_runtime stops the run where no runtime answers, and that is this check's failure.
  if ! (pick_runtime >/dev/null 2>&1); then
    preflight_record disk fail "neither Docker nor containerd answers on this node: the images cannot be loaded here" \
      "start one, or check DOCKER_HOST / CONTAINERD_ADDRESS, or pass --runtime; or push the images to a registry instead (--registry, --seed-registry)"
    return 0
  fi
  pick_runtime
  bytes=$(archives_bytes "$list")
  if ! root=$(runtime_root); then preflight_record disk warn "could not tell where $runtime keeps its images, so free disk was not checked"; return 0; fi
  free=$(df -Pk "$root" | awk 'NR == 2 { printf "%.0f", $4 * 1024 }')
  local what
  what="loading the images needs at least $(format_memory "$bytes") (the archives; their layers unpack to about as much again) on $root ($runtime)"
  if [ "$free" -lt "$bytes" ]; then
    preflight_record disk fail "not enough disk: $what, which has $(format_memory "$free") free" \
      "free space on the filesystem of $root (unused images: docker image prune -a, or crictl rmi --prune), or push the images to a registry instead (--registry, --seed-registry)"
  elif [ "$free" -lt $((bytes * 2)) ]; then
    preflight_record disk warn "$what, which has $(format_memory "$free") free: tight once the layers are unpacked"
  else
    preflight_record disk pass "$what, which has $(format_memory "$free") free"
  fi
}

# The checks that apply to this run: the cluster's when manifests are applied, this node's disk when images are
# loaded here (not pushed to a registry, where the node's runtime does not keep them).
run_preflight() {
  if [ "$manifests" = yes ] && [ -n "$(phase_files)" ]; then
    if ! command -v kubectl >/dev/null 2>&1; then
      preflight_record cluster fail "kubectl not found" "install kubectl (a version within one minor of the cluster's) on this machine"
    elif preflight_cluster_version; then
      preflight_storage_class
      preflight_capacity
    fi
  fi
  if [ "$images" = yes ] && [ -z "$registry" ] && [ "$seed" != yes ]; then preflight_disk; fi
}

# Prints the results (JSON with --json) and says whether every check passed.
preflight_report() {
  local i failed=0 total=${#preflight_names[@]}
  for ((i = 0; i < total; i++)); do [ "${preflight_states[i]}" != fail ] || failed=$((failed + 1)); done
  if [ "$json" = yes ]; then
    printf '{"kind":"preflight","ok":%s,"checks":[' "$([ "$failed" -eq 0 ] && echo true || echo false)"
    for ((i = 0; i < total; i++)); do
      printf '%s{"name":%s,"status":%s,"message":%s,"fix":%s}' "$([ "$i" -eq 0 ] || echo ,)" "$(json_string "${preflight_names[i]}")" \
        "$(json_string "${preflight_states[i]}")" "$(json_string "${preflight_messages[i]}")" "$(json_string "${preflight_fixes[i]}")"
    done
    printf ']}\n'
  else
    say "preflight:"
    for ((i = 0; i < total; i++)); do
      say "  ${preflight_states[i]}  ${preflight_names[i]}: ${preflight_messages[i]}"
      [ -z "${preflight_fixes[i]}" ] || [ "${preflight_states[i]}" = pass ] || say "        fix: ${preflight_fixes[i]}"
    done
  fi
  [ "$failed" -eq 0 ]
}

# Before anything is loaded or applied: stops on a failed check unless --force, which lists them and goes on.
preflight() {
  run_preflight
  [ "${#preflight_names[@]}" -gt 0 ] || return 0
  if preflight_report; then return 0; fi
  local i failures=()
  for ((i = 0; i < ${#preflight_names[@]}; i++)); do [ "${preflight_states[i]}" != fail ] || failures+=("${preflight_names[i]}"); done
  if [ "$force" = yes ]; then
    warn "preflight failed (${failures[*]}); going on because of --force: what failed above will show up in the install"
    return 0
  fi
  die "preflight failed (${failures[*]}): nothing was loaded or applied. Fix what is listed above, or run again with --force to install anyway"
}
