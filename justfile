# The one entry point for people and CI. `just --list` shows the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Where cargo puts release builds (CARGO_TARGET_DIR is honoured, as cargo honours it).
release := env_var_or_default("CARGO_TARGET_DIR", "target") + "/release"

# List the recipes
default:
    @just --list

# Install what the tests need (nginx, Prometheus, Node 22 + MCP clients, Python MCP SDK)
setup *args:
    scripts/setup.sh {{args}}

# Build every crate and binary
build:
    cargo build --workspace --all-targets

# All tests: unit, integration, and e2e with real MCP clients, nginx and backends
test:
    cargo test --workspace --no-fail-fast

# Formatting, clippy with warnings as errors, licences and sources of dependencies
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    # cargo-deny reads every platform's dependencies: fetch them all first (a fresh machine
    # has only this platform's), then check without touching the network again.
    cargo fetch --locked
    cargo deny --offline check licenses bans sources

# Package every published crate as crates.io would receive it and build each from its package
# (`tests/tests/packaging.rs` installs a server from the packages)
package:
    # Cargo verifies each package against the others through a local registry and treats them
    # like crates.io's: extracted once under $CARGO_HOME/registry/src/-<hash>/ and built once
    # per version. Our own are dropped from both caches first (the builds in a target dir of the
    # verification's own), or a crate is verified against an older sibling.
    rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/opsmcp-*
    rm -rf "${CARGO_TARGET_DIR:-target}"/package-verify/debug/.fingerprint/opsmcp-* "${CARGO_TARGET_DIR:-target}"/package-verify/debug/deps/*opsmcp_*
    cargo package --workspace --exclude opsmcp-e2e --exclude opsmcp-bench --exclude opsmcp-fixture --allow-dirty --target-dir "${CARGO_TARGET_DIR:-target}/package-verify"

# Only the official MCP conformance suite against the fixture (both protocol revisions)
conformance:
    cargo test -p opsmcp-e2e --test clients conformance -- --nocapture

# Benchmarks (release build); results in bench-results/
bench:
    cargo build --release -p opsmcp-bench
    # Each server on its own, as `cargo install` builds it (a joint build would unify features
    # such as axum's WebSocket support, which only the sandbox needs, into every binary).
    cargo build --release -p opsmcp-fixture
    cargo build --release -p opsmcp-prometheus
    cargo build --release -p opsmcp-kubernetes
    cargo build --release -p opsmcp-loki
    cargo build --release -p opsmcp-pagerduty
    cargo build --release -p opsmcp-github
    cargo build --release -p opsmcp-notion
    cargo build --release -p opsmcp-gateway
    {{release}}/opsmcp-bench --server {{release}}/opsmcp-fixture --out bench-results/opsmcp-fixture.json
    {{release}}/opsmcp-gateway-bench --gateway {{release}}/opsmcp-gateway --fixture {{release}}/opsmcp-fixture --bin-dir {{release}} --out bench-results/opsmcp-gateway.json
    {{release}}/opsmcp-bench --server {{release}}/opsmcp-prometheus --with-prometheus --tool query_instant --tool-args '{"query":"up"}' --seconds 3 --out bench-results/opsmcp-prometheus.json
    {{release}}/opsmcp-bench --server {{release}}/opsmcp-kubernetes --with-sandbox --target-rss-mib 10 --target-tools-list-tokens 3500 --seconds 0 --out bench-results/opsmcp-kubernetes.json
    {{release}}/opsmcp-bench --server {{release}}/opsmcp-loki --with-loki --seconds 0 --out bench-results/opsmcp-loki.json
    {{release}}/opsmcp-bench --server {{release}}/opsmcp-pagerduty --with-pagerduty --target-rss-mib 8 --target-tools-list-tokens 2500 --seconds 0 --out bench-results/opsmcp-pagerduty.json
    {{release}}/opsmcp-bench --server {{release}}/opsmcp-github --with-github --target-rss-mib 10 --target-tools-list-tokens 3500 --seconds 0 --out bench-results/opsmcp-github.json
    {{release}}/opsmcp-bench --server {{release}}/opsmcp-notion --with-notion --target-rss-mib 8 --target-tools-list-tokens 2000 --seconds 0 --out bench-results/opsmcp-notion.json
    python3 -c 'import json,glob; n={f.split("/")[-1][:-5]: json.load(open(f))["tools_list"]["cl100k_tokens"] for f in sorted(glob.glob("bench-results/opsmcp-*.json")) if "fixture" not in f and "gateway" not in f}; print("tools/list of the six servers together:", sum(n.values()), "cl100k tokens (target <= 15000):", n)'

# Soak each server over streamable HTTP against the sandbox (Prometheus: a real one): 64 sessions
# of read calls for 60 s (calls, errors, p50/p99, memory and descriptors), then again with the
# backend down for 10 s in the middle; results in bench-results/soak.json
soak *args:
    cargo build --release -p opsmcp-bench
    for s in prometheus kubernetes loki pagerduty github notion; do cargo build --release -p opsmcp-$s; done
    {{release}}/opsmcp-soak --bin-dir {{release}} --out bench-results/soak.json {{args}}

# Fuzz the kubectl argv classifier, the risk-rules parser and LogQL (nightly + cargo-fuzz), SECONDS each
fuzz SECONDS="600":
    cd fuzz && for t in kubectl_argv risk_rules logql; do mkdir -p corpus/$t && cp -n seeds/$t/* corpus/$t/; done
    cd fuzz && cargo +nightly fuzz run kubectl_argv corpus/kubectl_argv -- -max_total_time={{SECONDS}}
    cd fuzz && cargo +nightly fuzz run risk_rules corpus/risk_rules -- -max_total_time={{SECONDS}}
    cd fuzz && cargo +nightly fuzz run logql corpus/logql -- -max_total_time={{SECONDS}}

# The incident drill across the six servers: the sandbox world with an OOM-killed worker, a real
# Prometheus and Alertmanager paging the PagerDuty stand-in, the shared opsmcp-pagerduty behind
# nginx over SSE and the other five over stdio, from the page to the fix PR, the approved and
# verified limit, the Notion report, the resolve and the verified audit log
demo:
    # Exactly the build the drill asks for (every binary of the workspace, features unified), so
    # nothing is built once its world's clock runs; then the drill itself, as built.
    cargo build --quiet --workspace --bins
    "${CARGO_TARGET_DIR:-target}/debug/opsmcp-drill"

# The Prometheus-only walk-through (six hours of backfilled incident history)
demo-prometheus:
    cargo build --quiet --workspace --bins
    "${CARGO_TARGET_DIR:-target}/debug/opsmcp-demo"
