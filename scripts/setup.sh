#!/usr/bin/env bash
# Installs everything braid needs on Debian 12 (as root) and builds it. Idempotent: packages
# already present are not fetched again, and npm reuses node_modules when the lockfile matches.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ cmake make pkg-config libmnl-dev libgtest-dev   # native build and C++ tests
  libssl-dev                                          # ustack hashes (ISNs, MPTCP keys)
  clang-14 libclang-rt-14-dev                         # ustack wire fuzzing (libFuzzer, ASan)
  dpdk libdpdk-dev                                    # ustack DPDK port (EAL, ethdev, vdevs)
  iproute2 nftables ethtool                           # namespaces, shaping, redirect
  tshark                                              # judges ustack captures in tests
  iperf3 socat curl mptcpize python3 iputils-ping netcat-openbsd   # unmodified test clients and servers
  haproxy redis-server redis-tools                     # benchmark references
  golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v2-dev   # tools/helm-render (chart tests)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if ((node_major < 20)); then
  echo "setup: braid needs Node.js >= 20 (found $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# Build the addon against the installed Node's headers when they are there (no download).
if [[ -z "${npm_config_nodedir:-}" && -f /usr/include/node/node_api.h ]]; then
  export npm_config_nodedir=/usr
fi

if [[ ! -d node_modules ]] || ! npm ls --depth=0 >/dev/null 2>&1; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
