#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need, builds the tool, starts the project's own
# services (two Docker engines, a containerd and a registry on 127.0.0.1), runs every test, and stops the services by pid.
# The last line it prints is "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

fail_setup() { echo "test setup failed: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

bash scripts/test-env.sh install || fail_setup "installing Debian packages"
npm ci --no-audit --no-fund >/dev/null 2>&1 || npm ci --no-audit --no-fund || fail_setup "npm ci"
npm run --silent build || fail_setup "TypeScript build"

env_dir=$(mktemp -d "${TMPDIR:-/tmp}/kfb-env-XXXXXX")
trap 'bash scripts/test-env.sh stop "$env_dir"' EXIT
bash scripts/test-env.sh start "$env_dir" || fail_setup "starting Docker engines, containerd and registry"

KFB_TEST_ENV=$env_dir node scripts/run-tests.mjs test/unit test/integration
