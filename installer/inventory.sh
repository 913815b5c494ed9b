#!/usr/bin/env bash
# kfbundle installer part: what earlier installs applied, so that an upgrade can say what the new release no longer
# has, and remove it only when asked (--prune). Inlined into install.sh (core/installer-parts.ts).
#
# The cluster keeps the list, since the next bundle may be installed from another machine: ConfigMap
# kube-system/kfbundle-inventory, `objects` one object a line as in manifests/objects.txt (`<apiVersion>\t<kind>\t
# <namespace or ->\t<name>`). It holds every object kfbundle applied and has not removed: an upgrade's leftovers stay
# listed until they are pruned. Objects are matched by API group, kind, namespace and name, so a kind whose version
# moved (v1beta1 to v1) is the same object.
#
# Uses install.sh's say/warn/die and rerun_command, and its globals OBJECT_INVENTORY and prune. One inventory a
# cluster: kfbundle takes the cluster to run one Kubeflow, so a bundle of another release is its upgrade.

INVENTORY_NAMESPACE=kube-system
INVENTORY_NAME=kfbundle-inventory

# What the cluster's inventory lists, nothing before the first install; fails (kubectl's error on stderr) when it
# cannot be read, which must not pass for a first install: the leftovers it lists would be forgotten.
inventory_previous() {
  kubectl -n "$INVENTORY_NAMESPACE" get configmap "$INVENTORY_NAME" --ignore-not-found -o 'go-template={{index .data "objects"}}'
}

# The lines of the first list (file) whose object the second (file) does not name: group, kind, namespace, name.
inventory_missing_from() {
  awk -F'\t' '
    function key(api, kind, ns, name,   group) { group = api ~ /\// ? substr(api, 1, index(api, "/") - 1) : ""; return group "\t" kind "\t" ns "\t" name }
    FILENAME == ARGV[1] { if (NF >= 4) seen[key($1, $2, $3, $4)] = 1; next }
    NF >= 4 && !(key($1, $2, $3, $4) in seen)
  ' "$2" "$1"
}

# The leftovers (file $1) that can go without taking this bundle's objects (file $2) with them: not a namespace one of
# them is in, not the CRD of a group one of them uses.
inventory_deletable() {
  awk -F'\t' '
    FILENAME == ARGV[1] { if ($3 != "-") used_namespace[$3] = 1; if ($1 ~ /\//) used_group[substr($1, 1, index($1, "/") - 1)] = 1; next }
    $2 == "Namespace" && ($4 in used_namespace) { next }
    $2 == "CustomResourceDefinition" { group = $4; sub(/^[^.]*\./, "", group); if (group in used_group) next }
    { print }
  ' "$2" "$1"
}

# kubectl's name for the object of a line: `Kind.group/name`, or `Kind/name` in the core group. No version: the one
# recorded may no longer be served, and kubectl picks the preferred one.
inventory_target() {
  local api=$1 kind=$2
  if [[ "$api" == */* ]]; then printf '%s.%s/%s' "$kind" "${api%%/*}" "$3"; else printf '%s/%s' "$kind" "$3"; fi
}

# `Kind namespace/name`, or `Kind name` for a cluster-wide object.
inventory_label() {
  if [ "$2" = - ]; then printf '%s %s' "$1" "$3"; else printf '%s %s/%s' "$1" "$2" "$3"; fi
}

inventory_describe() {
  local api kind namespace name
  while IFS=$'\t' read -r api kind namespace name; do printf '  %s\n' "$(inventory_label "$kind" "$namespace" "$name")"; done < "$1"
}

# Deletes the objects of a list (file $1): workloads and the rest first, then CRDs (their resources go with them), then
# namespaces (everything in them goes too). Writes the lines it could not delete to file $2.
inventory_delete() {
  local pass api kind namespace name args
  for pass in rest crds namespaces; do
    while IFS=$'\t' read -r api kind namespace name; do
      case "$pass:$kind" in
        rest:CustomResourceDefinition|rest:Namespace|crds:Namespace) continue ;;
        crds:*) [ "$kind" = CustomResourceDefinition ] || continue ;;
        namespaces:*) [ "$kind" = Namespace ] || continue ;;
      esac
      args=(delete "$(inventory_target "$api" "$kind" "$name")" --ignore-not-found --wait=false)
      if [ "$namespace" != - ]; then args+=(--namespace "$namespace"); fi
      if kubectl "${args[@]}" >/dev/null; then
        say "  deleted $(inventory_label "$kind" "$namespace" "$name")"
      else
        printf '%s\t%s\t%s\t%s\n' "$api" "$kind" "$namespace" "$name" >> "$2"
      fi
    done < "$1"
  done
}

# After the manifests are applied: what the previous installs applied that this bundle does not, listed (or, with
# --prune, deleted); then the inventory is this bundle's objects and whatever is still left.
inventory_update() {
  [ -f "$OBJECT_INVENTORY" ] || return 0
  local dir count kept
  dir=$(mktemp -d)
  if ! inventory_previous > "$dir/previous"; then
    warn "could not read configmap $INVENTORY_NAMESPACE/$INVENTORY_NAME (error above): what earlier installs left behind is neither listed nor pruned, and the record is left as it was"
    rm -rf "$dir"
    return 0
  fi
  inventory_missing_from "$dir/previous" "$OBJECT_INVENTORY" > "$dir/missing"
  inventory_deletable "$dir/missing" "$OBJECT_INVENTORY" > "$dir/left"
  count=$(grep -c . "$dir/left" || true)
  # Still recorded: what cannot go yet (a namespace or CRD this bundle's objects still use), and what is not deleted.
  inventory_missing_from "$dir/missing" "$dir/left" > "$dir/kept"
  if [ "$count" -gt 0 ] && [ "$prune" = yes ]; then
    say "--prune: deleting the $count objects earlier installs applied that this bundle does not have:"
    : > "$dir/failed"
    inventory_delete "$dir/left" "$dir/failed"
    kept=$(grep -c . "$dir/failed" || true)
    if [ "$kept" -gt 0 ]; then warn "$kept of them could not be deleted (errors above); they stay listed for the next --prune"; fi
    cat "$dir/failed" >> "$dir/kept"
  elif [ "$count" -gt 0 ]; then
    say "$count objects earlier installs applied are not in this bundle (left as they are; the release no longer has them):"
    # head on a file, not on a pipe: a writer cut off by head would end the install (pipefail, set -e).
    head -n 20 "$dir/left" > "$dir/first"
    inventory_describe "$dir/first"
    if [ "$count" -gt 20 ]; then say "  … and $((count - 20)) more"; fi
    say "to delete them: $(rerun_command) --prune (see the list first with --dry-run --prune)"
    cat "$dir/left" >> "$dir/kept"
  fi
  cat "$OBJECT_INVENTORY" "$dir/kept" > "$dir/objects"
  kubectl create configmap "$INVENTORY_NAME" --namespace "$INVENTORY_NAMESPACE" --from-file=objects="$dir/objects" --dry-run=client -o yaml |
    kubectl apply --server-side --force-conflicts --field-manager kfbundle-inventory -f - >/dev/null ||
    warn "could not record what was applied in configmap $INVENTORY_NAMESPACE/$INVENTORY_NAME: the next upgrade will not know what this one left behind"
  rm -rf "$dir"
}

# --dry-run --prune: what an install of this bundle would delete now, changing nothing.
inventory_preview() {
  [ -f "$OBJECT_INVENTORY" ] || { say "--prune: this bundle applies no manifests, so it prunes nothing"; return 0; }
  command -v kubectl >/dev/null || die "kubectl not found: --dry-run --prune reads what earlier installs applied from the cluster"
  local dir count
  dir=$(mktemp -d)
  inventory_previous > "$dir/previous" || { rm -rf "$dir"; die "could not read configmap $INVENTORY_NAMESPACE/$INVENTORY_NAME (error above): cannot tell what --prune would delete"; }
  inventory_missing_from "$dir/previous" "$OBJECT_INVENTORY" > "$dir/missing"
  inventory_deletable "$dir/missing" "$OBJECT_INVENTORY" > "$dir/left"
  count=$(grep -c . "$dir/left" || true)
  if [ "$count" -eq 0 ]; then
    say "--prune would delete nothing: every object earlier installs applied is in this bundle"
  else
    say "--prune would delete these $count objects, which earlier installs applied and this bundle does not have:"
    inventory_describe "$dir/left"
  fi
  rm -rf "$dir"
}
