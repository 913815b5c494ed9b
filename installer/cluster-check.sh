#!/usr/bin/env bash
# shellcheck shell=bash
# kfbundle installer part: did Kubeflow come up? Run after the last phase, and alone with --check. Inlined into
# install.sh (core/installer-parts.ts).
#
# It waits up to --timeout for every Deployment, StatefulSet and DaemonSet the bundle applied (manifests/objects.txt)
# to be ready and prints ready/total per namespace. For what is not ready it looks at each stuck pod and names the
# cause as the cluster reports it: an image that cannot be pulled (with the node, whether the bundle has it, and, on
# this node, whether it is loaded), a pod the scheduler cannot place (with its reason, and for an unbound claim the
# StorageClass at fault), a container that keeps crashing (with its last log lines), else its newest warning event.
#
# The leak watch: every image a pod in the cluster failed to pull (from pod statuses, and from the kubelet's events
# for pods since gone) that is neither in the bundle nor in the target registry. These are what static analysis
# missed, for example a pipeline step's base image. They are written to a list (--leaks-file) that
# `kfbundle build --image-list` makes an add-on bundle of.
#
# Uses install.sh's say/warn/die, json_string, pick_runtime, bundle_platforms, rerun_command, the http_* functions
# of registry-http.sh, and its globals OBJECT_INVENTORY, IMAGE_REFS, registry, seed, runtime, timeout, json,
# leaks_file, BUILD_REGISTRY.

WORKLOAD_KINDS='Deployment StatefulSet DaemonSet'
PULL_FAILURES='ErrImagePull ImagePullBackOff ErrImageNeverPull InvalidImageName'

# The bundle's workloads (kind, namespace, name), from the objects it applies.
bundle_workloads() {
  [ -f "$OBJECT_INVENTORY" ] || return 0
  awk -F'\t' -v kinds="$WORKLOAD_KINDS" 'BEGIN { split(kinds, k, " "); for (i in k) wanted[k[i]] = 1 } ($2 in wanted) { print $2 "\t" $3 "\t" $4 }' "$OBJECT_INVENTORY"
}

# Each of the bundle's workloads as the cluster has it: kind, namespace, name, ready, desired, and `ready`, `waiting`
# or `missing`. Ready means every desired pod ready, and the newest spec observed (not a rollout still starting).
workload_rows() {
  local listing
  listing=$(kubectl get deployments,statefulsets,daemonsets --all-namespaces -o 'go-template={{range .items}}{{.kind}}{{"\t"}}{{.metadata.namespace}}{{"\t"}}{{.metadata.name}}{{"\t"}}{{.metadata.generation}}{{"\t"}}{{.status.observedGeneration}}{{"\t"}}{{if eq .kind "DaemonSet"}}{{.status.desiredNumberScheduled}}{{"\t"}}{{.status.numberReady}}{{else}}{{.spec.replicas}}{{"\t"}}{{.status.readyReplicas}}{{end}}{{"\n"}}{{end}}') || return 1
  awk -F'\t' '
    function number(v, fallback) { return (v == "" || v == "<no value>") ? fallback : v + 0 }
    FILENAME == ARGV[1] { wanted[$1 "\t" $2 "\t" $3] = 1; order[++count] = $1 "\t" $2 "\t" $3; next }
    { key = $1 "\t" $2 "\t" $3; if (!(key in wanted)) next
      desired = number($6, $1 == "DaemonSet" ? 0 : 1); ready = number($7, 0)
      state = (ready >= desired && number($5, 0) >= number($4, 0)) ? "ready" : "waiting"
      row[key] = ready "\t" desired "\t" state }
    END { for (i = 1; i <= count; i++) { key = order[i]; print key "\t" (key in row ? row[key] : "0\t1\tmissing") } }
  ' <(bundle_workloads) <(printf '%s\n' "$listing")
}

# Waits up to --timeout for every workload to be ready, saying now and then how many are; leaves the last rows in
# check_rows. Fails when some are still not ready.
check_rows=''
wait_workloads_ready() {
  local deadline=$((SECONDS + timeout)) next_report=$((SECONDS + 30)) total not_ready
  while :; do
    check_rows=$(workload_rows) || die "could not read the workloads from the cluster (kubectl's error above)"
    total=$(printf '%s\n' "$check_rows" | awk 'NF' | wc -l)
    not_ready=$(printf '%s\n' "$check_rows" | awk -F'\t' 'NF && $6 != "ready"' | wc -l)
    [ "$not_ready" -gt 0 ] || return 0
    [ "$SECONDS" -lt "$deadline" ] || return 1
    if [ "$SECONDS" -ge "$next_report" ]; then
      say "check: $((total - not_ready)) of $(plural "$total" workload) ready; waiting up to $((deadline - SECONDS))s more"
      next_report=$((SECONDS + 30))
    fi
    sleep 3
  done
}

# ready/total workloads per namespace, from check_rows: namespace, ready, total a line.
namespace_table() {
  printf '%s\n' "$check_rows" | awk -F'\t' 'NF { total[$2]++; if ($6 == "ready") ready[$2]++ } END { for (ns in total) print ns "\t" ready[ns] + 0 "\t" total[ns] }' | LC_ALL=C sort
}

# Everything the diagnosis reads, in one listing of tagged lines: P pods (namespace, name, node, phase, controller,
# PodScheduled status, reason, message), C containers and I init containers (namespace, pod, container, image,
# ready, restarts, waiting reason, waiting message), V claims mounted (namespace, pod, claim), R replica sets and J jobs (namespace, name,
# controller), E pod events, oldest first (namespace, pod, type, reason, message).
cluster_listing() {
  local pod='{{range .items}}{{$ns := .metadata.namespace}}{{$pod := .metadata.name}}P{{"\t"}}{{$ns}}{{"\t"}}{{$pod}}{{"\t"}}{{or .spec.nodeName "-"}}{{"\t"}}{{.status.phase}}{{"\t"}}{{range .metadata.ownerReferences}}{{if .controller}}{{.kind}}/{{.name}}{{end}}{{end}}{{"\t"}}{{range .status.conditions}}{{if eq .type "PodScheduled"}}{{.status}}{{"\t"}}{{with .reason}}{{.}}{{end}}{{"\t"}}{{with .message}}{{.}}{{end}}{{end}}{{end}}{{"\n"}}'
  pod+='{{range .status.initContainerStatuses}}I{{"\t"}}{{$ns}}{{"\t"}}{{$pod}}{{"\t"}}{{.name}}{{"\t"}}{{.image}}{{"\t"}}{{.ready}}{{"\t"}}{{.restartCount}}{{"\t"}}{{with .state.waiting}}{{.reason}}{{"\t"}}{{with .message}}{{.}}{{end}}{{end}}{{"\n"}}{{end}}'
  pod+='{{range .status.containerStatuses}}C{{"\t"}}{{$ns}}{{"\t"}}{{$pod}}{{"\t"}}{{.name}}{{"\t"}}{{.image}}{{"\t"}}{{.ready}}{{"\t"}}{{.restartCount}}{{"\t"}}{{with .state.waiting}}{{.reason}}{{"\t"}}{{with .message}}{{.}}{{end}}{{end}}{{"\n"}}{{end}}'
  pod+='{{range .spec.volumes}}{{with .persistentVolumeClaim}}V{{"\t"}}{{$ns}}{{"\t"}}{{$pod}}{{"\t"}}{{.claimName}}{{"\n"}}{{end}}{{end}}{{end}}'
  local owned='{{range .items}}TAG{{"\t"}}{{.metadata.namespace}}{{"\t"}}{{.metadata.name}}{{"\t"}}{{range .metadata.ownerReferences}}{{if .controller}}{{.kind}}/{{.name}}{{end}}{{end}}{{"\n"}}{{end}}'
  kubectl get pods --all-namespaces -o "go-template=$pod" || return 1
  kubectl get replicasets --all-namespaces -o "go-template=${owned/TAG/R}" 2>/dev/null || true
  kubectl get jobs --all-namespaces -o "go-template=${owned/TAG/J}" 2>/dev/null || true
  kubectl get events --all-namespaces --field-selector involvedObject.kind=Pod --sort-by=.lastTimestamp \
    -o 'go-template={{range .items}}E{{"\t"}}{{.involvedObject.namespace}}{{"\t"}}{{.involvedObject.name}}{{"\t"}}{{.type}}{{"\t"}}{{.reason}}{{"\t"}}{{.message}}{{"\n"}}{{end}}' 2>/dev/null || true
}

# From the listing (stdin) and the workloads not ready (file $1): one line per cause, tab-separated:
#   problem  REASON  NAMESPACE  POD  NODE  CONTAINER  IMAGE  DETAIL  WORKLOAD
# REASON: image-pull, crash-loop, unschedulable, waiting (DETAIL: the newest warning event), no-pods. And one line per
# image a pod failed to pull, anywhere in the cluster:
#   pull  IMAGE  NAMESPACE  POD  CONTROLLER  NODE
# CONTROLLER is the pod's top owner: a Deployment rather than its ReplicaSet, a CronJob rather than its Job; `gone`
# for a pod known from its events only, `-` for a pod of no controller.
diagnose_listing() {
  awk -F'\t' -v failures="$PULL_FAILURES" '
    BEGIN { split(failures, f, " "); for (i in f) pull_failure[f[i]] = 1 }
    FILENAME == ARGV[1] { if (NF) { stuck[$2 "\t" $1 "/" $3] = 1; stuck_order[++stuck_count] = $2 "\t" $1 "/" $3 } next }
    $1 == "P" { key = $2 "/" $3; pods[++pod_count] = key; node[key] = $4; phase[key] = $5; owner[key] = $6; scheduled[key] = $7; sched_message[key] = $9; next }
    $1 == "C" || $1 == "I" { key = $2 "/" $3; n = ++containers[key]; cinit[key, n] = ($1 == "I"); cname[key, n] = $4; cimage[key, n] = $5; cready[key, n] = $6; crestarts[key, n] = $7; creason[key, n] = $8; cmessage[key, n] = $9; next }
    $1 == "R" { rs_owner[$2 "/" $3] = $4; next }
    $1 == "J" { job_owner[$2 "/" $3] = $4; next }
    $1 == "E" { key = $2 "/" $3; if ($4 == "Warning") last_warning[key] = $5 ": " $6
                if ($5 == "Failed" && match($6, /^Failed to pull image "[^"]+"/)) { image = substr($6, 23, RLENGTH - 23); event_pull[key "\t" image] = 1 }
                next }
    function top(ns, o,   up) {
      if (o ~ /^ReplicaSet\//) { up = rs_owner[ns "/" substr(o, 12)]; if (up != "") return up }
      if (o ~ /^Job\//) { up = job_owner[ns "/" substr(o, 5)]; if (up != "") return up }
      return o
    }
    END {
      for (i = 1; i <= pod_count; i++) {
        key = pods[i]; ns = key; sub(/\/.*/, "", ns); name = substr(key, length(ns) + 2)
        controller = top(ns, owner[key])
        # Never an empty field: the shell reads these lines with a tab, a whitespace separator, and would drop it.
        if (controller == "") controller = "-"
        for (n = 1; n <= containers[key]; n++) if (creason[key, n] in pull_failure) { print "pull\t" cimage[key, n] "\t" ns "\t" name "\t" controller "\t" node[key] }
        workload = ns "\t" controller
        if (!(workload in stuck)) continue
        has_pods[workload] = 1
        if (phase[key] == "Succeeded") continue
        found = 0
        for (n = 1; n <= containers[key]; n++) {
          if (creason[key, n] in pull_failure) { print "problem\timage-pull\t" ns "\t" name "\t" node[key] "\t" cname[key, n] "\t" cimage[key, n] "\t" creason[key, n] ": " cmessage[key, n] "\t" controller; found = 1 }
          else if (creason[key, n] == "CrashLoopBackOff") { print "problem\tcrash-loop\t" ns "\t" name "\t" node[key] "\t" cname[key, n] "\t" cimage[key, n] "\tCrashLoopBackOff, " crestarts[key, n] " restarts\t" controller; found = 1 }
        }
        if (found) continue
        if (scheduled[key] == "False") { print "problem\tunschedulable\t" ns "\t" name "\t-\t-\t-\t" sched_message[key] "\t" controller; continue }
        # Init containers that ran to completion are not ready, and need not be.
        all_ready = (containers[key] > 0)
        for (n = 1; n <= containers[key]; n++) if (!cinit[key, n] && cready[key, n] != "true") all_ready = 0
        if (all_ready && phase[key] == "Running") continue
        detail = last_warning[key]
        if (detail == "") for (n = 1; n <= containers[key]; n++) if (creason[key, n] != "") detail = creason[key, n] (cmessage[key, n] == "" ? "" : ": " cmessage[key, n])
        print "problem\twaiting\t" ns "\t" name "\t" node[key] "\t-\t-\t" (detail == "" ? "phase " phase[key] ", containers not ready, no warning events" : detail) "\t" controller
      }
      for (i = 1; i <= stuck_count; i++) if (!(stuck_order[i] in has_pods)) { split(stuck_order[i], parts, "\t"); print "problem\tno-pods\t" parts[1] "\t-\t-\t-\t-\t-\t" parts[2] }
      # Events outlive their pods (an hour, by default): they tell of the pulls of pods since deleted, such as a
      # step of a pipeline. A pod still there is judged by its status instead, which says whether it pulls now.
      for (pair in event_pull) {
        split(pair, parts, "\t"); key = parts[1]; image = parts[2]
        if (key in node) continue
        ns = key; sub(/\/.*/, "", ns); name = substr(key, length(ns) + 2)
        print "pull\t" image "\t" ns "\t" name "\tgone\t-"
      }
    }
  ' "$1" -
}

# A reference as the bundle lists it: a Docker Hub short name made whole (busybox is docker.io/library/busybox:latest),
# and, where the manifests name the registry, without it.
bundle_form() {
  local ref=$1 first
  if [ -n "$registry" ] && [[ "$ref" == "$registry/"* ]]; then ref=${ref#"$registry/"}; fi
  first=${ref%%/*}
  if [ "$first" = "$ref" ] || { [[ "$first" != *.* ]] && [[ "$first" != *:* ]] && [ "$first" != localhost ]; }; then ref="docker.io/$ref"; fi
  if [[ "$ref" == docker.io/* ]] && [[ "${ref#docker.io/}" != */* ]]; then ref="docker.io/library/${ref#docker.io/}"; fi
  if [[ "$ref" != *@* ]] && [[ "${ref##*/}" != *:* ]]; then ref="$ref:latest"; fi
  printf '%s' "$ref"
}

in_bundle() { [ -f "$IMAGE_REFS" ] && grep -qxF "$(bundle_form "$1")" "$IMAGE_REFS"; }

# This machine's node in the cluster: KFB_NODE_NAME, else the node named as this host is (lowercase too); nothing
# when neither is a node.
this_node_name() {
  local candidate
  for candidate in ${KFB_NODE_NAME:-} "$(uname -n)" "$(uname -n | tr '[:upper:]' '[:lower:]')"; do
    [ -n "$candidate" ] || continue
    if kubectl get node "$candidate" >/dev/null 2>&1; then printf '%s' "$candidate"; return 0; fi
  done
}

# Whether this node's runtime has the image under the name the pod uses; 2 when no runtime answers here.
loaded_here() {
  docker_answers || ctr_answers || return 2
  pick_runtime >&2
  case "$runtime" in
    docker) docker image inspect "$1" >/dev/null 2>&1 ;;
    containerd) [ -n "$(ctr -n "$CONTAINERD_NAMESPACE" images ls -q "name==$(bundle_form "$1")" 2>/dev/null)" ] ;;
  esac
}

# The references (stdin, a line each, as the bundle names them) that the target registry serves under
# REGISTRY/REFERENCE, a line each; nothing when there is no registry or it cannot be asked.
registry_serves() {
  [ -n "$registry" ] && command -v curl >/dev/null 2>&1 || { cat >/dev/null; return 0; }
  (
    set +e
    http_host=${registry%%/*}
    http_prefix=''
    if [ "$registry" != "$http_host" ]; then http_prefix=${registry#*/}; fi
    http_origin="$(http_scheme)://$http_host"
    http_tmp=$(mktemp -d "${TMPDIR:-/tmp}/kfbundle-check.XXXXXX") || exit 0
    trap 'rm -rf "$http_tmp"' EXIT
    http_enter main
    http_probe >/dev/null 2>&1 || exit 0
    local ref name tag
    while IFS= read -r ref; do
      [ -n "$ref" ] || continue
      name=${ref%%@*}
      if [[ "$ref" == *@* ]]; then tag=${ref#*@}; else tag=${name##*:}; name=${name%:*}; fi
      if http_served_digest "$name" "$tag" >/dev/null 2>&1; then printf '%s\n' "$ref"; fi
    done
  )
}

# What to do about one pod's image that cannot be pulled: sets advice (the text), advice_in_bundle and advice_loaded
# (true, false or null: known for this node only) for --json.
advice=''
advice_in_bundle=null
advice_loaded=null
pull_advice() {
  local image=$1 node=$2 here=$3
  advice_loaded=null
  if ! in_bundle "$image"; then
    advice_in_bundle=false
    advice='not in this bundle: a leak, listed below'
    if [ -n "$registry" ]; then advice="not in this bundle: a leak (listed below, unless $registry serves it)"; fi
    return 0
  fi
  advice_in_bundle=true
  if [ "$seed" = yes ]; then
    advice="in the bundle, and the manifests name it at the seeded registry $registry: check its pod (kubectl -n $SEED_NAMESPACE get pods) and that node $node reaches its NodePort on 127.0.0.1"
  elif [ -n "$registry" ]; then
    advice="in the bundle, and the manifests name it at $registry: check that node $node reaches $registry and trusts it, and push again with: $0 --images-only --registry $registry"
  elif [ -n "$here" ] && [ "$node" = "$here" ]; then
    local loaded=0
    loaded_here "$image" || loaded=$?
    if [ "$loaded" -eq 2 ]; then
      advice="in the bundle; neither Docker nor containerd answers here to say whether it is loaded on this node: load it with: $0 --images-only"
    elif [ "$loaded" -eq 0 ]; then
      advice_loaded=true
      advice="in the bundle and loaded on this node ($runtime), yet the kubelet does not see it: load it into the runtime the kubelet uses (--runtime docker or --runtime containerd)"
    else
      advice_loaded=false
      advice="in the bundle, not loaded on this node: load it with: $0 --images-only"
    fi
  else
    advice="in the bundle, not loaded on node $node: run there: ./install.sh --images-only"
  fi
}

# What to do about a pod the scheduler cannot place: for an unbound claim, the claim and its StorageClass at fault.
schedule_advice() {
  local ns=$1 pod=$2 message=$3 claims claim class phase defaults
  case "$message" in
    *"unbound immediate PersistentVolumeClaims"*)
      defaults=$(default_storage_classes 2>/dev/null) || defaults=''

      claims=$(awk -F'\t' -v ns="$ns" -v pod="$pod" '$1 == "V" && $2 == ns && $3 == pod { print $4 }' <<< "$listing")
      for claim in $claims; do
        # `|`, not a tab: read drops an empty field before a whitespace separator, and a claim's class may be empty.
        IFS='|' read -r class phase < <(kubectl -n "$ns" get pvc "$claim" -o 'go-template={{or .spec.storageClassName ""}}|{{.status.phase}}{{"\n"}}' 2>/dev/null || printf '|\n')
        [ "$phase" != Bound ] || continue
        if [ -z "$class" ] && [ -z "$defaults" ]; then
          printf 'claim %s/%s names no StorageClass and the cluster has no default one: make one the default: kubectl patch storageclass NAME -p '\''{"metadata":{"annotations":{"storageclass.kubernetes.io/is-default-class":"true"}}}'\'' (kubectl get storageclass lists them; none: install a provisioner). ' "$ns" "$claim"
        elif [ -n "$class" ] && ! kubectl get storageclass "$class" >/dev/null 2>&1; then
          printf 'claim %s/%s names StorageClass %s, which does not exist (kubectl get storageclass). ' "$ns" "$claim" "$class"
        else
          printf 'claim %s/%s is %s: kubectl -n %s describe pvc %s says why. ' "$ns" "$claim" "${phase:-not found}" "$ns" "$claim"
        fi
      done
      ;;
    *Insufficient*) printf 'add nodes or capacity, or lower what the pod requests: kubectl describe nodes shows what each node has allocated' ;;
    *"node affinity/selector"*) printf 'no node has the labels the pod asks for: kubectl -n %s get pod %s -o yaml shows its nodeSelector and affinity' "$ns" "$pod" ;;
    *) printf 'kubectl -n %s describe pod %s' "$ns" "$pod" ;;
  esac
}

# Writes the leaks (file of `image ns pod controller node` lines) to the list --leaks-file names, with where each was
# seen as a comment; prints the path written, nothing when it could not be written.
write_leaks_file() {
  local target=$leaks_file
  {
    printf '# Images pods tried to pull that are not in bundle %s (install.sh --check, %s).\n' "$(basename "$bundle_dir")" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf '# Make an add-on bundle of them: kfbundle build --image-list %s --out kubeflow-addon\n' "$(basename "$target")"
    awk -F'\t' '{ if (!($1 in first)) { first[$1] = 1; order[++n] = $1 } where[$1] = where[$1] "\n# pulled by pod " $2 "/" $3 ($4 == "-" ? "" : " (" $4 ")") ($5 == "-" ? "" : " on node " $5) }
      END { for (i = 1; i <= n; i++) print substr(where[order[i]], 2) "\n" order[i] }' "$1"
  } > "$target" 2>/dev/null || return 0
  printf '%s' "$target"
}

# The add-on bundle's build command for the leak list, with this bundle's platforms and registry.
addon_command() {
  local command platforms
  command="kfbundle build --image-list $(basename "$1") --out kubeflow-addon"
  platforms=$(bundle_platforms)
  [ -z "$platforms" ] || command+=" --platform ${platforms//, /,}"
  [ -z "$BUILD_REGISTRY" ] || command+=" --registry $BUILD_REGISTRY"
  printf '%s' "$command"
}

# The check, from what wait_workloads_ready left. Prints its report (JSON with --json); fails when not all is ready or
# something leaked.
listing=''
report_check() {
  local all_ready=$1 work stuck problems pulls leaks here line reason ns pod node container image detail workload
  work=$(mktemp -d "${TMPDIR:-/tmp}/kfbundle-check.XXXXXX") || die "could not make a temporary directory"
  stuck="$work/stuck" problems="$work/problems" pulls="$work/pulls" leaks="$work/leaks"
  printf '%s\n' "$check_rows" | awk -F'\t' 'NF && $6 != "ready"' > "$stuck"
  listing=$(cluster_listing) || { rm -rf "$work"; die "could not list the cluster's pods (kubectl's error above)"; }
  printf '%s\n' "$listing" | diagnose_listing "$stuck" > "$work/found"
  grep '^problem' "$work/found" | cut -f2- > "$problems" || true
  grep '^pull' "$work/found" | cut -f2- > "$pulls" || true
  here=$(this_node_name)

  # Leaks: pulled images the bundle does not have, less those the registry serves (named there, or not).
  : > "$leaks"
  while IFS=$'\t' read -r image ns pod workload node; do
    in_bundle "$image" || printf '%s\t%s\t%s\t%s\t%s\n' "$(bundle_form "$image")" "$ns" "$pod" "$workload" "$node" >> "$leaks"
  done < "$pulls"
  if [ -s "$leaks" ] && [ -n "$registry" ]; then
    local served
    served=$(cut -f1 "$leaks" | LC_ALL=C sort -u | registry_serves)
    if [ -n "$served" ]; then
      awk -F'\t' 'FILENAME == ARGV[1] { served[$1] = 1; next } !($1 in served)' <(printf '%s\n' "$served") "$leaks" > "$leaks.kept"
      mv "$leaks.kept" "$leaks"
      while IFS= read -r image; do
        warn "$registry serves $registry/$image, but pods pull it by its own name: point the nodes' runtime at $registry as a mirror of ${image%%/*} (see docs/targets.md)"
      done <<< "$served"
    fi
  fi
  local leak_count written='' command=''
  leak_count=$(cut -f1 "$leaks" | LC_ALL=C sort -u | awk 'NF' | wc -l)
  if [ "$leak_count" -gt 0 ]; then
    written=$(write_leaks_file "$leaks")
    command=$(addon_command "${written:-$leaks_file}")
  fi

  if [ "$json" = yes ]; then
    report_check_json "$all_ready" "$problems" "$leaks" "$here" "$written" "$command"
  else
    report_check_text "$all_ready" "$problems" "$leaks" "$here" "$written" "$command"
  fi
  rm -rf "$work"
  [ "$all_ready" = yes ] && [ "$leak_count" -eq 0 ]
}

report_check_text() {
  local all_ready=$1 problems=$2 leaks=$3 here=$4 written=$5 command=$6 ns ready total reason pod node container image detail workload
  local total_workloads ready_workloads
  total_workloads=$(printf '%s\n' "$check_rows" | awk 'NF' | wc -l)
  ready_workloads=$(printf '%s\n' "$check_rows" | awk -F'\t' '$6 == "ready"' | wc -l)
  say "check: workloads ready per namespace (Deployments, StatefulSets, DaemonSets the bundle applied):"
  while IFS=$'\t' read -r ns ready total; do
    [ -n "$ns" ] || continue
    printf '  %-32s %s/%s%s\n' "$ns" "$ready" "$total" "$([ "$ready" = "$total" ] || printf '  not ready')"
  done < <(namespace_table)
  if [ "$all_ready" = yes ]; then
    say "all ready: $ready_workloads of $(plural "$total_workloads" workload)"
  else
    say "not ready after ${timeout}s: $((total_workloads - ready_workloads)) of $(plural "$total_workloads" workload):"
    printf '%s\n' "$check_rows" | awk -F'\t' 'NF && $6 != "ready" { printf "  %s %s/%s: %s of %s ready%s\n", $1, $2, $3, $4, $5, ($6 == "missing" ? " (not in the cluster)" : "") }'
  fi
  while IFS=$'\t' read -r reason ns pod node container image detail workload; do
    [ -n "$reason" ] || continue
    case "$reason" in
      image-pull)
        say "  pod $ns/$pod ($workload) on node $node: image $image cannot be pulled (${detail%%:*})"
        pull_advice "$image" "$node" "$here"
        say "    $advice"
        ;;
      crash-loop)
        say "  pod $ns/$pod ($workload) on node $node: container $container keeps crashing ($detail); its last lines:"
        kubectl -n "$ns" logs "$pod" -c "$container" --previous --tail=10 2>&1 | sed 's/^/      /' || true
        ;;
      unschedulable)
        say "  pod $ns/$pod ($workload) cannot be scheduled: $detail"
        say "    $(schedule_advice "$ns" "$pod" "$detail")"
        ;;
      no-pods) say "  $workload in $ns has no pods: kubectl -n $ns describe ${workload%%/*} ${workload#*/} says why" ;;
      *) say "  pod $ns/$pod ($workload) on node $node is not ready: $detail" ;;
    esac
  done < "$problems"
  if [ -s "$leaks" ]; then
    say "leak watch: pods tried to pull $(plural "$(cut -f1 "$leaks" | LC_ALL=C sort -u | wc -l)" image) in neither the bundle nor ${registry:-a registry} (static analysis missed them):"
    awk -F'\t' '{ printf "  %s  pod %s/%s%s%s\n", $1, $2, $3, ($4 == "-" ? "" : " (" $4 ")"), ($5 == "-" ? "" : " on node " $5) }' "$leaks"
    if [ -n "$written" ]; then say "the list is in $written; on the build machine, make an add-on bundle of it:"; else say "could not write $leaks_file; on the build machine, list the images above in a file and make an add-on bundle of it:"; fi
    say "  $command"
    say "then load it here as this bundle was (its install.sh --images-only, on every node without a registry), or add them to your bundle spec's images.extra and rebuild"
  fi
  if [ "$all_ready" != yes ] || [ -s "$leaks" ]; then say "check again with: $(check_command)"; fi
}

report_check_json() {
  local all_ready=$1 problems=$2 leaks=$3 here=$4 written=$5 command=$6 ns ready total reason pod node container image detail workload sep='' logs
  printf '{"kind":"check","ready":%s,"timeoutSeconds":%s,"node":%s,"namespaces":[' "$([ "$all_ready" = yes ] && echo true || echo false)" "$timeout" "$(json_string "$here")"
  while IFS=$'\t' read -r ns ready total; do
    [ -n "$ns" ] || continue
    printf '%s{"namespace":%s,"ready":%s,"total":%s}' "$sep" "$(json_string "$ns")" "$ready" "$total"
    sep=,
  done < <(namespace_table)
  printf '],"workloads":['
  sep=''
  while IFS=$'\t' read -r kind ns name ready total state; do
    [ -n "$kind" ] || continue
    printf '%s{"kind":%s,"namespace":%s,"name":%s,"ready":%s,"desired":%s,"state":%s}' "$sep" "$(json_string "$kind")" "$(json_string "$ns")" "$(json_string "$name")" "$ready" "$total" "$(json_string "$state")"
    sep=,
  done <<< "$check_rows"
  printf '],"problems":['
  sep=''
  while IFS=$'\t' read -r reason ns pod node container image detail workload; do
    [ -n "$reason" ] || continue
    advice='' logs='[]'
    advice_in_bundle=null advice_loaded=null
    case "$reason" in
      image-pull) pull_advice "$image" "$node" "$here" ;;
      unschedulable) advice=$(schedule_advice "$ns" "$pod" "$detail") ;;
      crash-loop) logs=$(kubectl -n "$ns" logs "$pod" -c "$container" --previous --tail=10 2>&1 | json_lines) || logs='[]' ;;
    esac
    printf '%s{"reason":%s,"namespace":%s,"pod":%s,"workload":%s,"node":%s,"container":%s,"image":%s,"message":%s,"inBundle":%s,"loadedOnNode":%s,"fix":%s,"logs":%s}' "$sep" \
      "$(json_string "$reason")" "$(json_string "$ns")" "$(json_string "$pod")" "$(json_string "$workload")" "$(json_string "$node")" "$(json_string "$container")" \
      "$(json_string "$image")" "$(json_string "$detail")" "$advice_in_bundle" "$advice_loaded" "$(json_string "$advice")" "$logs"
    sep=,
  done < "$problems"
  printf '],"leaks":['
  sep=''
  while IFS=$'\t' read -r image ns pod workload node; do
    [ -n "$image" ] || continue
    [ "$workload" != - ] || workload=''
    printf '%s{"image":%s,"namespace":%s,"pod":%s,"controller":%s,"node":%s}' "$sep" "$(json_string "$image")" "$(json_string "$ns")" "$(json_string "$pod")" "$(json_string "$workload")" "$(json_string "$node")"
    sep=,
  done < "$leaks"
  printf '],"leaksFile":%s,"addonCommand":%s,"recheck":%s}\n' "$(json_string "$written")" "$(json_string "$command")" "$(json_string "$(check_command)")"
}

# What to run to check again, with the same choice of where images are (a registry's images are no leak).
check_command() {
  printf '%s --check%s' "$0" "$(image_target_options)"
}

# Lines of stdin as a JSON array of strings.
json_lines() {
  local line sep='' out='['
  while IFS= read -r line; do out+="$sep$(json_string "$line")"; sep=,; done
  printf '%s]' "$out"
}

# After the last phase, and for --check: waits, then reports; fails when not ready, naming the causes.
check_cluster() {
  command -v kubectl >/dev/null || die "kubectl not found: it is needed to check the cluster"
  if [ ! -f "$OBJECT_INVENTORY" ]; then
    say "check: this bundle applies no manifests; run --check with the install.sh of the release's bundle"
    if [ "$json" = yes ]; then
      printf '{"kind":"check","ready":true,"timeoutSeconds":%s,"node":"","namespaces":[],"workloads":[],"problems":[],"leaks":[],"leaksFile":"","addonCommand":"","recheck":%s}\n' "$timeout" "$(json_string "$(check_command)")"
    fi
    return 0
  fi
  local all_ready=yes
  [ "$json" = yes ] || say "check: waiting up to ${timeout}s for the bundle's $(plural "$(bundle_workloads | wc -l)" workload) to be ready"
  wait_workloads_ready || all_ready=no
  report_check "$all_ready"
}
