#!/usr/bin/env bash
# shellcheck shell=bash
# Part of install.sh (inlined where install.sh includes it): pushes the bundle's images to a registry
# over the registry HTTP API with curl alone, for nodes where neither Docker nor ctr answers (or --push-with http).
# Every byte sent is read straight from the image archives at the offsets images/push.txt gives, so nothing is
# unpacked or loaded first and a 10 GB bundle needs no disk beyond itself. Each blob is asked for (HEAD) in every
# repository that needs it before anything is sent: one the registry has is never sent again, so a rerun or a second
# bundle sends only what is new, and a blob another repository has is mounted from there instead of uploaded.
#
# Uses install.sh's say/warn/die, with_retries, archive_files, manifest_line and bundle_platforms, and its globals:
# registry (HOST[:PORT][/PREFIX]), plain_http, registry_ca, parallel, retries, retry_delay, all_archives, push_files,
# IMAGE_PUSH, IMAGE_REFS, IMAGE_MANIFESTS, BASE_BUNDLE; KFB_REGISTRY_AUTH (USER:PASSWORD) from the environment.
# Credentials and the URLs (which may carry a secret root, http_root) go to curl in a config on a file descriptor,
# never on its command line where ps shows them, and no message prints them: messages name $registry only.

# A path the registry's API is served under before /v2 (distribution's http.prefix), e.g. a secret one for a registry
# seeded by this installer. Never printed.
http_root=''
# What to run again after a failed push; a caller with other options (--seed-registry) sets its own.
http_resume=''

http_host=''
http_prefix=''
http_origin=''
# A directory of the installer's own (mode 700) for this push: curl's headers and bodies, and per lane the registry's
# auth scheme and the tokens it issued. Removed when the push ends, however it ends.
http_tmp=''
# The current shell's (the parent's or one lane's) directory under http_tmp.
http_dir=''
http_status=''
# The bytes a request sends, set with `local` by the caller (bash scopes them dynamically): an archive and a span.
http_body_archive=''
http_body_offset=0
http_body_size=0
# Filled once per push, in order: the blob lines (several lanes take them), a delta's base lines (checked first) and
# the manifest lines of images/push.txt.
http_blobs=()
http_bases=()
http_manifests=()

MANIFEST_ACCEPT='application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json'

# Loopback registries are plain HTTP (containerd's rule, and what every runtime allows without configuration) unless a
# CA is given for them: a certificate to check means the registry speaks TLS.
http_scheme() {
  if [ "$plain_http" = yes ]; then printf 'http'; return 0; fi
  if [ -n "$registry_ca" ]; then printf 'https'; return 0; fi
  case "${http_host%:*}" in
    localhost|127.*) printf 'http' ;;
    *) printf 'https' ;;
  esac
}

# A repository of the bundle (`gcr.io/x/y`) as the registry names it: below the registry's path prefix.
http_repository() { printf '%s' "${http_prefix:+$http_prefix/}$1"; }
# What messages call it: the registry as the user gave it, and the repository.
http_name() { printf '%s/%s' "$registry" "$1"; }
http_api() { printf '%s%s/v2/%s' "$http_origin" "$http_root" "$(http_repository "$1")"; }

# A value as a quoted string of curl's config syntax.
http_quote() {
  local value=${1//\\/\\\\}
  value=${value//\"/\\\"}
  printf '"%s"' "$value"
}

# Text from curl or a registry with the secret root taken out, for messages.
http_scrub() {
  local text=$1
  if [ -n "$http_root" ]; then text=${text//"$http_root"/}; fi
  printf '%s' "$text"
}

# One header of the last answer, without its CR.
http_header() {
  sed -n "s/^$1:[[:space:]]*//Ip" "$http_dir/headers" | sed 's/\r$//' | tail -n 1
}

# The registry's own words about a refusal: the first `{"errors":[{"code":…,"message":…}]}` entry, if it sent one.
http_registry_error() {
  [ -s "$http_dir/body" ] || return 0
  local code message
  code=$(sed -n 's/.*"code"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$http_dir/body" | head -n 1)
  message=$(sed -n 's/.*"message"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$http_dir/body" | head -n 1)
  if [ -n "$code" ]; then http_scrub " ($code${message:+: $message})"; fi
}

# One request: curl with CONFIG (url, credentials) on fd 3 and ARGS. Sets http_status and leaves the answer's headers
# and body in http_dir; fails (saying why) only when no answer came. No time limit, since a layer may be gigabytes:
# a connection that moves nothing for 5 minutes is given up instead (a registry storing to S3 may take minutes to
# commit a large upload after its last byte).
http_curl() {
  local config=$1 flags=(--silent --show-error --connect-timeout 30 --speed-limit 1 --speed-time 300) code error
  shift
  if [ -n "$registry_ca" ]; then flags+=(--cacert "$registry_ca"); fi
  : > "$http_dir/headers"
  : > "$http_dir/body"
  code=0
  http_status=$(curl "${flags[@]}" --config /dev/fd/3 --dump-header "$http_dir/headers" --output "$http_dir/body" \
    --write-out '%{http_code}' "$@" 3<<< "$config" 2> "$http_dir/curl-error") || code=$?
  [ "$code" -ne 0 ] || return 0
  http_status=000
  error=$(http_scrub "$(head -n 1 "$http_dir/curl-error")")
  case "$code" in
    60) error+=" (the registry's certificate is not trusted here: give the CA that signed it with --registry-ca FILE)" ;;
    35) error+=" (no TLS handshake: if $registry serves plain HTTP, use --registry-plain-http)" ;;
    52|56) error+=" (if $registry serves HTTPS, give its CA with --registry-ca FILE)" ;;
  esac
  printf '%s\n' "$error" >&2
  return 1
}

# The registry's auth scheme as this shell knows it: `none`, `basic`, or `bearer<TAB>realm<TAB>service`.
http_auth_scheme() { cat "$http_dir/scheme" 2>/dev/null || printf 'none'; }

# Scopes of a token for SCOPE (`REPO` or `REPO FROM`): push to the repository, and pull from the one a blob is
# mounted from.
http_scopes() {
  printf 'repository:%s:pull,push' "$(http_repository "$1")"
  if [ -n "${2:-}" ]; then printf ' repository:%s:pull' "$(http_repository "$2")"; fi
}

# Asks the realm for a token for SCOPES (words), with the basic credentials if given; adds it to this shell's tokens.
http_fetch_token() {
  local scopes=$1 realm service config args=(--get) scope token
  IFS=$'\t' read -r _ realm service < "$http_dir/scheme"
  config="url = $(http_quote "$realm")"
  if [ -n "${KFB_REGISTRY_AUTH:-}" ]; then config+=$'\n'"user = $(http_quote "$KFB_REGISTRY_AUTH")"; fi
  if [ -n "$service" ]; then args+=(--data-urlencode "service=$service"); fi
  for scope in $scopes; do args+=(--data-urlencode "scope=$scope"); done
  http_curl "$config" "${args[@]}" || { printf 'the token service of %s did not answer\n' "$registry" >&2; return 1; }
  case "$http_status" in
    200) ;;
    401|403)
      if [ -z "${KFB_REGISTRY_AUTH:-}" ]; then
        printf '%s needs a login: set KFB_REGISTRY_AUTH=USER:PASSWORD (its token service answered HTTP %s)\n' "$registry" "$http_status" >&2
        return 2
      fi
      printf 'the token service of %s refused the credentials in KFB_REGISTRY_AUTH (HTTP %s)\n' "$registry" "$http_status" >&2
      # As for the registry itself: a 401 may pass (a directory service that hiccups), a 403 will not.
      if [ "$http_status" = 401 ]; then return 1; fi
      return 2
      ;;
    *) printf 'the token service of %s answered HTTP %s\n' "$registry" "$http_status" >&2; return 1 ;;
  esac
  token=$(sed -n 's/.*"token"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$http_dir/body" | head -n 1)
  [ -n "$token" ] || token=$(sed -n 's/.*"access_token"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$http_dir/body" | head -n 1)
  [ -n "$token" ] || { printf 'the token service of %s answered without a token\n' "$registry" >&2; return 1; }
  printf '%s\t%s\n' "$scopes" "$token" >> "$http_dir/tokens"
}

# This shell's token for SCOPES, fetched when it has none.
http_token() {
  local scopes=$1 known token
  if [ -f "$http_dir/tokens" ]; then
    while IFS=$'\t' read -r known token; do
      if [ "$known" = "$scopes" ]; then printf '%s' "$token"; return 0; fi
    done < "$http_dir/tokens"
  fi
  http_fetch_token "$scopes" || return
  http_token "$scopes"
}

# The credentials lines of curl's config for a request to the registry in SCOPE.
http_auth_config() {
  local scheme scopes token
  scheme=$(http_auth_scheme)
  case "$scheme" in
    none) return 0 ;;
    basic) printf 'user = %s' "$(http_quote "$KFB_REGISTRY_AUTH")" ;;
    bearer*)
      scopes=$(http_scopes "$@")
      token=$(http_token "$scopes") || return
      printf 'header = %s' "$(http_quote "Authorization: Bearer $token")"
      ;;
  esac
}

# Learns from the 401 in http_dir/headers which auth the registry wants: basic (with the credentials given, or it
# stops here naming KFB_REGISTRY_AUTH) or a bearer token from a realm.
http_learn_scheme() {
  local challenge realm service
  challenge=$(http_header www-authenticate)
  case "$challenge" in
    [Bb]asic*)
      if [ -z "${KFB_REGISTRY_AUTH:-}" ]; then
        printf '%s needs a login: set KFB_REGISTRY_AUTH=USER:PASSWORD\n' "$registry" >&2
        return 2
      fi
      printf 'basic' > "$http_dir/scheme"
      ;;
    [Bb]earer*)
      realm=$(printf '%s' "$challenge" | sed -n 's/.*[[:space:],][Rr]ealm="\([^"]*\)".*/\1/p')
      service=$(printf '%s' "$challenge" | sed -n 's/.*[[:space:],][Ss]ervice="\([^"]*\)".*/\1/p')
      [ -n "$realm" ] || { printf '%s asks for a token without saying where to get one\n' "$registry" >&2; return 2; }
      printf 'bearer\t%s\t%s\n' "$realm" "$service" > "$http_dir/scheme"
      ;;
    *)
      printf '%s asks for a login this installer cannot give (%s)\n' "$registry" "${challenge%% *}" >&2
      return 2
      ;;
  esac
}

# Answers a 401 for SCOPE: the credentials the challenge asks for, or a new token (the last one expired or was for
# less than this request needs).
http_challenge() {
  local scopes
  http_learn_scheme || return
  case "$(http_auth_scheme)" in
    bearer*)
      scopes=$(http_scopes "$@")
      if [ -f "$http_dir/tokens" ]; then
        awk -F'\t' -v scopes="$scopes" '$1 != scopes' "$http_dir/tokens" > "$http_dir/tokens.new"
        mv "$http_dir/tokens.new" "$http_dir/tokens"
      fi
      http_fetch_token "$scopes" || return
      ;;
  esac
}

# One request to URL for SCOPE (`REPO [FROM]`, as one word list) with curl ARGS; the body is http_body_* when set.
# Credentials go along up front once the registry has asked for them, and a 401 is answered once (a token expires).
http_request() {
  local scope=$1 url=$2 answered=no config auth
  shift 2
  while :; do
    config="url = $(http_quote "$url")"
    # Credentials only for the registry itself: an upload URL elsewhere (a blob store) gets none.
    if [ "${url#*://"$http_host"/}" != "$url" ]; then
      # shellcheck disable=SC2086 # the scope is a repository and, for a mount, the one mounted from
      auth=$(http_auth_config $scope) || return
      if [ -n "$auth" ]; then config+=$'\n'"$auth"; fi
    fi
    if [ -n "$http_body_archive" ]; then
      # curl streams standard input as it reads it; a length given by hand and no chunked encoding make the PUT the
      # exact, monolithic upload the registry checks the digest of.
      http_curl "$config" --upload-file - --header "Content-Length: $http_body_size" --header 'Transfer-Encoding:' --header 'Expect:' "$@" \
        < <(http_archive_bytes "$http_body_archive" "$http_body_offset" "$http_body_size") || return 1
    else
      http_curl "$config" "$@" || return 1
    fi
    [ "$http_status" = 401 ] && [ "$answered" = no ] || return 0
    answered=yes
    # shellcheck disable=SC2086
    http_challenge $scope || return
  done
}

# Says why a request group stops: WHAT, the registry's answer and its own error; returns 2 (retrying cannot help: a
# refusal other than 401, 404 or 429, or a login it needs and was not given) or 1 (worth another try).
http_give_up() {
  local what=$1
  if [ "$http_status" = 401 ] && [ -z "${KFB_REGISTRY_AUTH:-}" ]; then
    printf '%s: %s needs a login: set KFB_REGISTRY_AUTH=USER:PASSWORD\n' "$what" "$registry" >&2
    return 2
  fi
  printf '%s: %s answered HTTP %s%s\n' "$what" "$registry" "$http_status" "$(http_registry_error)" >&2
  if [ "$http_status" = 401 ]; then printf '(the credentials in KFB_REGISTRY_AUTH were refused)\n' >&2; fi
  case "$http_status" in
    401|404|408|429) return 1 ;;
    4??) return 2 ;;
    *) return 1 ;;
  esac
}

# SIZE bytes from OFFSET of an archive's stream (the archive, or its parts one after another), read with seeks: never
# the whole archive, never a joined copy. dd stops at the count itself, so no process dies of a closed pipe.
http_archive_bytes() {
  local offset=$2 size=$3 part part_size take
  while IFS= read -r part; do
    [ "$size" -gt 0 ] || break
    part_size=$(stat -c %s "$part") || return 1
    if [ "$offset" -ge "$part_size" ]; then
      offset=$((offset - part_size))
      continue
    fi
    take=$((part_size - offset < size ? part_size - offset : size))
    dd if="$part" bs=1M iflag=skip_bytes,count_bytes skip="$offset" count="$take" status=none || return 1
    size=$((size - take))
    offset=0
  done < <(archive_files "$1")
  [ "$size" -eq 0 ] || { printf '%s ends before the %s bytes images/push.txt names\n' "$1" "$3" >&2; return 1; }
}

# Uploads a blob to REPO: a POST opens the upload, the bytes go in one PUT to the URL it gives (LOCATION, when a
# declined mount opened it already).
http_upload() {
  local repo=$1 archive=$2 offset=$3 size=$4 digest=$5 location=${6:-}
  if [ -z "$location" ]; then
    http_request "$repo" "$(http_api "$repo")/blobs/uploads/" --request POST --header 'Content-Length: 0' || return
    [ "$http_status" = 202 ] || { http_give_up "starting the upload of blob $digest to $(http_name "$repo")"; return; }
    location=$(http_header location)
  fi
  [ -n "$location" ] || { printf 'the registry opened an upload of blob %s to %s without saying where\n' "$digest" "$(http_name "$repo")" >&2; return 1; }
  case "$location" in /*) location=$http_origin$location ;; esac
  case "$location" in *\?*) location+="&digest=${digest/:/%3A}" ;; *) location+="?digest=${digest/:/%3A}" ;; esac
  local http_body_archive=$archive http_body_offset=$offset http_body_size=$size
  http_request "$repo" "$location" --header 'Content-Type: application/octet-stream' || return
  [ "$http_status" = 201 ] || { http_give_up "upload of blob $digest ($size bytes, from $archive) to $(http_name "$repo")"; return; }
  printf 'sent %s\n' "$size" >> "$http_dir/result"
}

# One blob line of images/push.txt: the blob in every repository listed. Asked for in each first; where one has it,
# the others mount it from there; where none has, it is uploaded to the first and mounted into the rest (a registry
# that declines a mount opens an upload instead, which then gets the bytes). Records what it did in http_dir/result.
http_push_blob() {
  local archive=$1 offset=$2 size=$3 digest=$4 repo source='' missing=()
  shift 4
  : > "$http_dir/result"
  for repo in "$@"; do
    http_request "$repo" "$(http_api "$repo")/blobs/$digest" --head || return
    case "$http_status" in
      200) printf 'there\n' >> "$http_dir/result"; [ -n "$source" ] || source=$repo ;;
      404) missing+=("$repo") ;;
      *) http_give_up "checking for blob $digest in $(http_name "$repo")"; return ;;
    esac
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  if [ -z "$source" ] && [ "$archive" = - ]; then
    # A delta bundle's base layer: in none of this bundle's archives, so the base must have been pushed here first.
    printf '%s has no blob %s (for %s), a layer of the base bundle %s, which this delta bundle does not carry: push the base bundle there first (%s), then this one\n' \
      "$registry" "$digest" "$(http_name "$1")" "$BASE_BUNDLE" "$(http_base_advice)" >&2
    return 2
  fi
  if [ -z "$source" ]; then
    source=${missing[0]}
    missing=("${missing[@]:1}")
    http_upload "$source" "$archive" "$offset" "$size" "$digest" || return
  fi
  for repo in ${missing[@]+"${missing[@]}"}; do
    http_request "$repo $source" "$(http_api "$repo")/blobs/uploads/?mount=${digest/:/%3A}&from=$(http_repository "$source")" --request POST --header 'Content-Length: 0' || return
    case "$http_status" in
      201) printf 'mounted\n' >> "$http_dir/result" ;;
      202)
        if [ "$archive" = - ]; then
          # Declined, and an upload opened instead, which this bundle has no bytes for: closed again.
          local opened
          opened=$(http_header location)
          case "$opened" in /*) opened=$http_origin$opened ;; esac
          if [ -n "$opened" ]; then http_request "$repo" "$opened" --request DELETE >/dev/null 2>&1 || true; fi
          printf '%s declined to mount blob %s, a layer of the base bundle %s, into %s from %s, and this delta bundle does not carry it: push the base bundle there with %s in it, or build a full bundle\n' \
            "$registry" "$digest" "$BASE_BUNDLE" "$(http_name "$repo")" "$(http_name "$source")" "$(http_name "$repo")" >&2
          return 2
        fi
        http_upload "$repo" "$archive" "$offset" "$size" "$digest" "$(http_header location)" || return
        ;;
      *) http_give_up "mounting blob $digest into $(http_name "$repo") from $(http_name "$source")"; return ;;
    esac
  done
}

# How to get a delta bundle's base into the registry pushed to.
http_base_advice() {
  if [ "$seed" = yes ]; then printf 'its install.sh --seed-registry --registry-port %s' "$seed_port"; else printf 'its install.sh --images-only --registry %s' "$registry"; fi
}

# One manifest line: the manifest's bytes under REFERENCE (a tag, or an index's child by digest), checked against
# the digest the registry says it stored.
http_put_manifest() {
  local archive=$1 offset=$2 size=$3 digest=$4 media_type=$5 repo=$6 reference=$7 stored
  local http_body_archive=$archive http_body_offset=$offset http_body_size=$size
  http_request "$repo" "$(http_api "$repo")/manifests/$reference" --header "Content-Type: $media_type" || return
  [ "$http_status" = 201 ] || { http_give_up "putting manifest $digest as $(http_name "$repo"):$reference"; return; }
  stored=$(http_header docker-content-digest)
  if [ -n "$stored" ] && [ "$stored" != "$digest" ]; then
    printf '%s stored the manifest of %s:%s as %s, not as %s\n' "$registry" "$(http_name "$repo")" "$reference" "$stored" "$digest" >&2
    return 2
  fi
}

# The registry's API root: whether it answers over the scheme chosen, and which auth it wants. Credentials are tried
# here (basic ones on the registry, others at the token service), so wrong ones stop the push before anything is sent.
http_probe() {
  local url="$http_origin$http_root/v2/" config
  config="url = $(http_quote "$url")"
  http_curl "$config" || return 1
  if [ "$http_status" = 401 ]; then
    http_learn_scheme || return
    case "$(http_auth_scheme)" in
      basic) http_curl "$config"$'\n'"user = $(http_quote "$KFB_REGISTRY_AUTH")" || return 1 ;;
      bearer*) if [ -n "${KFB_REGISTRY_AUTH:-}" ]; then http_fetch_token '' || return; fi; return 0 ;;
    esac
  fi
  case "$http_status" in
    200) ;;
    401) http_give_up "logging in to $registry"; return ;;
    404) printf '%s has no registry API at this address (HTTP 404)\n' "$registry" >&2; return 2 ;;
    *)
      if [ "$(http_scheme)" = http ]; then printf '(spoken to in plain HTTP: if %s serves HTTPS, give its CA with --registry-ca FILE)\n' "$registry" >&2; fi
      http_give_up "reaching the registry API of $registry"
      return
      ;;
  esac
}

# Runs a request group for with_retries, which takes any failure as worth another try: a refusal that is not (status
# 2) ends the tries here, as a success for with_retries with the reason kept in http_dir/final for http_group.
http_attempt() {
  local status=0
  "$@" 2> "$http_dir/attempt-errors" || status=$?
  if [ "$status" -eq 2 ]; then
    cp "$http_dir/attempt-errors" "$http_dir/final"
    return 0
  fi
  cat "$http_dir/attempt-errors" >&2
  return "$status"
}

# with_retries for one request group (WHAT, COMMAND...), ending at once on a refusal retrying cannot change.
http_group() {
  local what=$1
  shift
  rm -f "$http_dir/final"
  with_retries "$what" http_attempt "$@" || return 1
  if [ -f "$http_dir/final" ]; then
    tail -n 20 "$http_dir/final" >&2
    return 1
  fi
}

# A directory for one shell's requests: the registry's auth scheme as the parent learnt it, no tokens yet.
http_enter() {
  http_dir=$http_tmp/$1
  mkdir -p "$http_dir"
  if [ -f "$http_tmp/main/scheme" ] && [ "$1" != main ]; then cp "$http_tmp/main/scheme" "$http_dir/scheme"; fi
}

# One lane of the blob pushes: lines LANE, LANE+LANES, … of http_blobs, until one fails or another lane's did.
http_lane() {
  local lane=$1 lanes=$2 index kind archive offset size digest repos sent
  http_enter "lane-$lane"
  for ((index = lane; index < ${#http_blobs[@]}; index += lanes)); do
    [ ! -e "$http_tmp/stop" ] || return 0
    IFS=$'\t' read -r kind archive offset size digest repos <<< "${http_blobs[$index]}"
    # shellcheck disable=SC2086 # the repositories are words
    if ! http_group "blob $digest" http_push_blob "$archive" "$offset" "$size" "$digest" $repos; then
      printf 'blob %s (for %s)\n' "$digest" "${repos// /, }" >> "$http_tmp/failed"
      : > "$http_tmp/stop"
      return 1
    fi
    cat "$http_dir/result" >> "$http_dir/stats"
    sent=$(sed -n 's/^sent //p' "$http_dir/result" | head -n 1)
    if [ -n "$sent" ]; then say "  sent blob $digest ($(http_bytes "$sent")) for ${repos%% *}"; fi
  done
}

http_bytes() {
  awk -v bytes="$1" 'BEGIN {
    if (bytes >= 1073741824) printf "%.1f GiB", bytes / 1073741824
    else if (bytes >= 1048576) printf "%.1f MiB", bytes / 1048576
    else if (bytes >= 1024) printf "%.1f KiB", bytes / 1024
    else printf "%d B", bytes
  }'
}

# The length of an archive's stream: the archive, or its parts together.
http_stream_length() {
  local part total=0
  while IFS= read -r part; do total=$((total + $(stat -c %s "$part"))); done < <(archive_files "$1")
  printf '%s' "$total"
}

# images/push.txt into http_blobs and http_manifests, every line checked: it decides what is read and where it goes,
# and a span past the end of its archive would leave curl waiting for bytes that never come.
http_read_plan() {
  local line kind archive offset size digest rest candidate
  local name='[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?' number='(0|[1-9][0-9]*)' hash='sha256:[0-9a-f]{64}'
  local -A lengths=()
  for candidate in "${all_archives[@]}" "${push_files[@]}"; do lengths[$candidate]=$(http_stream_length "$candidate"); done
  http_blobs=()
  http_bases=()
  http_manifests=()
  while IFS= read -r line; do
    IFS=$'\t' read -r kind archive offset size digest rest <<< "$line"
    if [ "$kind" = base ]; then
      # Carried by the base bundle, not this one: nothing to read here.
      [[ "$archive" = - && "$offset" = 0 && "$size" =~ ^$number$ && "$digest" =~ ^$hash$ && "$rest" =~ ^$name( $name)*$ ]] ||
        die "$IMAGE_PUSH has a malformed base line: $line"
      [ "${#http_manifests[@]}" -eq 0 ] || die "$IMAGE_PUSH has a base line after a manifest line: $line"
      http_bases+=("$line")
      continue
    fi
    [ -n "${lengths[$archive]:-}" ] || die "$IMAGE_PUSH names a file that is not one of the bundle's image archives: $archive"
    case "$kind" in
      blob)
        [[ "$offset" =~ ^$number$ && "$size" =~ ^$number$ && "$digest" =~ ^$hash$ && "$rest" =~ ^$name( $name)*$ ]] ||
          die "$IMAGE_PUSH has a malformed blob line: $line"
        [ "${#http_manifests[@]}" -eq 0 ] || die "$IMAGE_PUSH has a blob line after a manifest line: $line"
        http_blobs+=("$line")
        ;;
      manifest)
        [[ "$offset" =~ ^$number$ && "$size" =~ ^$number$ && "$digest" =~ ^$hash$ &&
          "$rest" =~ ^[a-z0-9.+/-]+$'\t'$name$'\t'([A-Za-z0-9_][A-Za-z0-9._-]{0,127}|$hash)$ ]] ||
          die "$IMAGE_PUSH has a malformed manifest line: $line"
        http_manifests+=("$line")
        ;;
      *) die "$IMAGE_PUSH has a line that is neither blob, base nor manifest: $line" ;;
    esac
    [ $((offset + size)) -le "${lengths[$archive]}" ] || die "$IMAGE_PUSH names bytes past the end of $archive: $line"
  done < "$IMAGE_PUSH"
  [ "${#http_manifests[@]}" -gt 0 ] || die "$IMAGE_PUSH names no manifest"
}

# Every blob line, --parallel lanes at once (default one per core); dies naming the blobs that failed.
http_push_blobs() {
  local jobs lane pid pids=() stopped=no
  jobs=${parallel:-$(nproc 2>/dev/null || echo 1)}
  [ "$jobs" -le "${#http_blobs[@]}" ] || jobs=${#http_blobs[@]}
  [ "$jobs" -ge 1 ] || jobs=1
  say "${#http_blobs[@]} blobs to check in $registry, $jobs at a time"
  for ((lane = 0; lane < jobs; lane++)); do
    http_lane "$lane" "$jobs" &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do wait "$pid" || stopped=yes; done
  if [ "$stopped" = yes ] && [ ! -s "$http_tmp/failed" ]; then die "a lane of the push to $registry stopped (error above)"; fi
  if [ -s "$http_tmp/failed" ]; then
    die "could not push to $registry (last error above): $(paste -sd ';' "$http_tmp/failed" | sed 's/;/; /g'); nothing was tagged. Resume with: ${http_resume:-$0 --images-only --registry $registry --push-with http}"
  fi
}

# A delta bundle's base layers, before any blob of its own is sent: each must be in the registry already (mounted
# where a repository lacks it); the first missing one ends the push with nothing uploaded.
http_check_base() {
  [ "${#http_bases[@]}" -gt 0 ] || return 0
  local line kind archive offset size digest repos
  say "${#http_bases[@]} layers of the base bundle $BASE_BUNDLE to find in $registry (this delta bundle does not carry them)"
  for line in "${http_bases[@]}"; do
    IFS=$'\t' read -r kind archive offset size digest repos <<< "$line"
    # shellcheck disable=SC2086 # the repositories are words
    http_group "base layer $digest" http_push_blob - 0 "$size" "$digest" $repos ||
      die "the base bundle's layers are not all in $registry (above); nothing of this bundle was sent"
    cat "$http_dir/result" >> "$http_dir/stats"
  done
}

# Every manifest line, in order (an index after the manifests it lists), then a tag per image.
http_put_manifests() {
  local line kind archive offset size digest media_type repo reference index=0 tags=0
  for line in "${http_manifests[@]}"; do
    IFS=$'\t' read -r _ _ _ _ _ _ _ reference <<< "$line"
    case "$reference" in sha256:*) ;; *) tags=$((tags + 1)) ;; esac
  done
  for line in "${http_manifests[@]}"; do
    IFS=$'\t' read -r kind archive offset size digest media_type repo reference <<< "$line"
    case "$reference" in
      sha256:*) ;;
      *) index=$((index + 1)); say "  image $index of $tags: $(http_name "$repo"):$reference" ;;
    esac
    http_group "manifest $(http_name "$repo"):$reference" http_put_manifest "$archive" "$offset" "$size" "$digest" "$media_type" "$repo" "$reference" ||
      die "could not put the manifest of $(http_name "$repo"):$reference (last error above); resume with: ${http_resume:-$0 --images-only --registry $registry --push-with http}"
    printf 'manifest\n' >> "$http_dir/stats"
  done
}

# The digest the registry serves for REPO:TAG now, as a pull by tag resolves it.
http_served_digest() {
  http_request "$1" "$(http_api "$1")/manifests/$2" --head --header "Accept: $MANIFEST_ACCEPT" 2>/dev/null || return 1
  [ "$http_status" = 200 ] || return 1
  http_header docker-content-digest
}

# As push_images does after ctr: every reference read back by tag, against the upstream digest images/manifests.txt
# says a push keeps.
http_read_back() {
  local ref line digest push platform served checked=0 kept=0 one_platform=0 composed=0
  while IFS= read -r ref; do
    line=$(manifest_line "$ref") || exit 1
    [ -n "$line" ] || continue
    IFS=$'\t' read -r digest push platform <<< "$line"
    checked=$((checked + 1))
    if [ "$push" = platform ]; then one_platform=$((one_platform + 1)); fi
    if [ "$push" = composed ]; then
      composed=$((composed + 1))
      if ! served=$(http_served_digest "${ref%:*}" "${ref##*:}") || [ "$served" != "$digest" ]; then
        warn "$registry serves $registry/$ref as ${served:-nothing}, not as the index of $platform the bundle composed ($digest)"
      fi
      continue
    fi
    if ! served=$(http_served_digest "${ref%:*}" "${ref##*:}") || [ -z "$served" ]; then
      warn "could not read $registry/$ref back to check its digest (upstream: $digest)"
    elif [ "$served" != "$digest" ]; then
      warn "$registry serves $registry/$ref as $served, not as the upstream $digest: references pinned to $digest will not resolve there (the bundle's manifests name images by tag and are not affected)"
    else
      kept=$((kept + 1))
    fi
  done < "$IMAGE_REFS"
  [ "$checked" -gt 0 ] || return 0
  if [ "$composed" -gt 0 ]; then
    say "$composed images name an index upstream that lists more platforms than the bundle's ($(bundle_platforms)): each tag names an index of the bundle's platforms alone, a new digest, so pins to the upstream index do not resolve on $registry (the bundle's manifests name images by tag)"
  fi
  checked=$((checked - composed))
  [ "$checked" -gt 0 ] || return 0
  say "$kept of $checked read back from $registry with their upstream digests: references pinned to those digests resolve there"
  if [ "$one_platform" -gt 0 ]; then
    say "$one_platform of them name a multi-platform index upstream, of which the bundle holds one platform: the tag names that platform's manifest, so pins to it resolve on $registry and pins to the index do not"
  fi
}

http_summary() {
  local sent bytes there mounted manifests
  read -r sent bytes there mounted manifests < <(cat "$http_tmp"/*/stats 2>/dev/null | awk '
    $1 == "sent" { sent++; bytes += $2 } $1 == "there" { there++ } $1 == "mounted" { mounted++ } $1 == "manifest" { manifests++ }
    END { printf "%d %d %d %d %d\n", sent, bytes, there, mounted, manifests }')
  say "pushed to $registry over HTTP: $sent blobs sent ($(http_bytes "$bytes")), $there already there, $mounted mounted from another repository; $manifests manifests put"
}

# The whole push over HTTP: what install.sh --registry does where neither Docker nor ctr answers. The blobs first
# (several lanes), then the manifests (each after what it names), then every tag read back. Fails (having said why)
# with a non-zero status.
http_push_images() {
  local status
  # In a subshell of its own, whose EXIT trap removes the temporary directory (and the tokens in it) however the push
  # ends, while an EXIT trap of the caller's stays as it was. Not run as a condition, so that set -e holds inside.
  set +e
  (
    set -e
    http_push_all
  )
  status=$?
  set -e
  return "$status"
}

http_push_all() {
  local tool
  for tool in curl dd stat; do
    command -v "$tool" >/dev/null || die "$tool not found: it is needed to push to $registry without Docker or ctr"
  done
  [ -f "$IMAGE_PUSH" ] || die "$IMAGE_PUSH is missing: this bundle cannot be pushed without Docker or ctr"
  http_host=${registry%%/*}
  http_prefix=''
  if [ "$registry" != "$http_host" ]; then http_prefix=${registry#*/}; fi
  http_origin="$(http_scheme)://$http_host"
  http_read_plan
  http_tmp=$(mktemp -d "${TMPDIR:-/tmp}/kfbundle-push.XXXXXX") || die "could not make a temporary directory"
  trap 'rm -rf "$http_tmp"' EXIT
  # Interrupted: leave through the EXIT trap too (without these, bash would die of the signal without running it).
  trap 'exit 130' INT
  trap 'exit 143' TERM
  http_enter main
  say "pushing $(wc -l < "$IMAGE_REFS") images to $registry over the registry HTTP API ($(http_scheme)), straight from the image archives"
  http_group "reaching $registry" http_probe ||
    die "could not reach $registry (last error above): check the address, --registry-plain-http or --registry-ca, and KFB_REGISTRY_AUTH"
  http_check_base
  http_push_blobs
  http_put_manifests
  say "all $(wc -l < "$IMAGE_REFS") images pushed to $registry"
  http_summary
  if [ -f "$IMAGE_MANIFESTS" ]; then http_read_back; fi
}
