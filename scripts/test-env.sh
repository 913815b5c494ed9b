#!/usr/bin/env bash
# The services the tests use, owned by the project: two private Docker engines (builder and target), a standalone
# containerd (a containerd node), and one registry, all bound to a temp directory and 127.0.0.1, started and stopped
# by pid. Nothing here touches the host's own Docker or containerd.
#
#   scripts/test-env.sh install      install Debian's docker.io, docker-registry, busybox-static, shellcheck, skopeo, openssl if missing
#   scripts/test-env.sh start DIR    start everything under DIR and write DIR/env (shell-sourceable)
#   scripts/test-env.sh stop DIR     stop everything started under DIR and remove DIR
set -euo pipefail

log() { printf 'test-env: %s\n' "$*" >&2; }

install_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v docker-registry >/dev/null || missing+=(docker-registry)
  [ -x /bin/busybox ] || missing+=(busybox-static)
  command -v shellcheck >/dev/null || missing+=(shellcheck)
  # A reference peer for the registry client's tests: manifests and blobs as another client fetches them.
  command -v skopeo >/dev/null || missing+=(skopeo)
  command -v openssl >/dev/null || missing+=(openssl)
  if [ ${#missing[@]} -eq 0 ]; then return 0; fi
  log "installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then log "need root to install ${missing[*]}"; exit 1; fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{process.stdout.write(String(s.address().port));s.close()})'
}

wait_for() {
  local what=$1 tries=$2; shift 2
  local i
  for ((i = 0; i < tries; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  log "$what did not become ready"
  return 1
}

start_dockerd() {
  local dir=$1 role=$2
  local root=$dir/$role
  mkdir -p "$root/data" "$root/exec" || return 1
  echo '{}' > "$root/daemon.json" || return 1
  # --config-file keeps the host's /etc/docker/daemon.json out; no bridge or iptables: nothing here runs containers.
  dockerd \
    --config-file "$root/daemon.json" \
    --data-root "$root/data" \
    --exec-root "$root/exec" \
    --pidfile "$root/dockerd.pid" \
    --host "unix://$root/docker.sock" \
    --bridge=none --iptables=false --ip6tables=false \
    >"$root/dockerd.log" 2>&1 &
  echo $! > "$root/launcher.pid"
  if ! wait_for "dockerd ($role)" 120 docker --host "unix://$root/docker.sock" version; then
    tail -n 20 "$root/dockerd.log" >&2
    return 1
  fi
}

start_containerd() {
  local dir=$1/containerd
  mkdir -p "$dir/root" "$dir/state" || return 1
  # The CRI plugin is off: no kubelet here, and it would want CNI. Images import into the k8s.io namespace regardless.
  cat > "$dir/config.toml" <<EOF || return 1
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
EOF
  containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
  echo $! > "$dir/containerd.pid"
  if ! wait_for "containerd" 80 ctr --address "$dir/containerd.sock" version; then
    tail -n 20 "$dir/containerd.log" >&2
    return 1
  fi
}

start_registry() {
  local dir=$1/$2 port
  port=$(free_port) || return 1
  mkdir -p "$dir/storage" || return 1
  cat > "$dir/config.yml" <<EOF || return 1
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
  docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
  echo $! > "$dir/registry.pid"
  if ! wait_for "registry ($2)" 80 node -e "fetch('http://127.0.0.1:$port/v2/').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then
    tail -n 20 "$dir/registry.log" >&2
    return 1
  fi
  echo "$port"
}

start_all() {
  # Called as a condition, where set -e does not apply: every step checks its own result.
  local dir=$1 port second
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd) || return 1
  start_dockerd "$dir" builder || return 1
  start_dockerd "$dir" target || return 1
  start_containerd "$dir" || return 1
  port=$(start_registry "$dir" registry) || return 1
  # A second registry, for mirror chains: one mirror that lacks an image or serves another under the same name.
  second=$(start_registry "$dir" second-registry) || return 1
  cat > "$dir/env" <<EOF || return 1
KFB_BUILDER_HOST=unix://$dir/builder/docker.sock
KFB_TARGET_HOST=unix://$dir/target/docker.sock
KFB_CONTAINERD_ADDRESS=$dir/containerd/containerd.sock
KFB_REGISTRY=127.0.0.1:$port
KFB_SECOND_REGISTRY=127.0.0.1:$second
EOF
  log "started builder and target engines, containerd and registries on 127.0.0.1:$port and :$second under $dir"
}

stop_pid() {
  local pidfile=$1 name=$2
  [ -f "$pidfile" ] || return 0
  local pid i
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 60; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name ($pid) did not stop; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}

stop_all() {
  local dir=$1
  [ -d "$dir" ] || return 0
  dir=$(cd "$dir" && pwd)
  stop_pid "$dir/registry/registry.pid" registry
  stop_pid "$dir/second-registry/registry.pid" "second registry"
  stop_pid "$dir/containerd/containerd.pid" containerd
  local role
  for role in builder target; do
    # dockerd stops its own containerd child when it exits cleanly.
    stop_pid "$dir/$role/dockerd.pid" "dockerd ($role)"
    stop_pid "$dir/$role/launcher.pid" "dockerd launcher ($role)"
  done
  # A killed dockerd can leave overlay mounts behind; removing the directory needs them gone.
  local mounts
  mounts=$(grep -o " $dir/[^ ]*" /proc/mounts 2>/dev/null | sort -r || true)
  for mount in $mounts; do umount -l "$mount" 2>/dev/null || true; done
  rm -rf "$dir"
}

case "${1:-}" in
  install) install_packages ;;
  start)
    [ -n "${2:-}" ] || { log "usage: $0 start DIR"; exit 2; }
    # Whatever started before a failure is stopped again, so a failed start leaves nothing running.
    if ! start_all "$2"; then stop_all "$2"; exit 1; fi
    ;;
  stop) [ -n "${2:-}" ] || { log "usage: $0 stop DIR"; exit 2; }; stop_all "$2" ;;
  *) log "usage: $0 install | start DIR | stop DIR"; exit 2 ;;
esac
