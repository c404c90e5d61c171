#!/usr/bin/env bash
# Builds the real programs the integration tests and benchmarks run beside ipfs-kit, from the Go module
# proxy, into a cache dir (default ~/.cache/ipfs-kit/bin), each once per version:
#   ipfs                  Kubo                 github.com/ipfs/kubo/cmd/ipfs                                  KUBO_VERSION    v0.41.0
#   ipfs-cluster-service  IPFS Cluster peer    github.com/ipfs-cluster/ipfs-cluster/cmd/ipfs-cluster-service  CLUSTER_VERSION v1.0.8
#   ipfs-cluster-ctl      its CLI              github.com/ipfs-cluster/ipfs-cluster/cmd/ipfs-cluster-ctl      CLUSTER_VERSION v1.0.8
#   versitygw             an S3 server         github.com/versity/versitygw/cmd/versitygw                     VERSITYGW_VERSION v1.8.0
# `go install pkg@vX` cannot be used: it asks the proxy for the module's version list, which the proxy
# here refuses; a throwaway module with an explicit version works (`go get <package path>@<version>`, then
# `go build`). Checksums are still verified against sum.golang.org, which Go reaches through the proxy.
# A `<bin>.version` file beside each binary records what was built, so a cached binary is reused only
# when its version matches.
# Usage: scripts/install-go-tools.sh [TOOL ...]    (TOOL: kubo cluster versitygw; default all)
#        env: IPFS_KIT_CACHE, KUBO_VERSION, CLUSTER_VERSION, VERSITYGW_VERSION
set -euo pipefail
KUBO_VERSION="${KUBO_VERSION:-v0.41.0}"
CLUSTER_VERSION="${CLUSTER_VERSION:-v1.0.8}"
VERSITYGW_VERSION="${VERSITYGW_VERSION:-v1.8.0}"
cache="${IPFS_KIT_CACHE:-$HOME/.cache/ipfs-kit}"
bin_dir="$cache/bin"
mkdir -p "$bin_dir"

# build NAME MODULE_VERSION PACKAGE [PACKAGE...]: each package's binary lands in bin_dir under its last
# path element; skipped when every one is there with a matching .version file.
build() {
  local label="$1" version="$2"
  shift 2
  local pkg fresh=1
  for pkg in "$@"; do
    local b="$bin_dir/${pkg##*/}"
    [ -x "$b" ] && [ "$(cat "$b.version" 2>/dev/null)" = "$pkg@$version" ] || fresh=0
  done
  if [ "$fresh" = 1 ]; then
    echo "$label $version already in $bin_dir"
    return 0
  fi
  command -v go >/dev/null 2>&1 || {
    echo "install-go-tools: Go is needed to build $label $version (https://go.dev/doc/install, or 'apt-get install golang')" >&2
    exit 1
  }
  local work
  work="$(mktemp -d "$cache/go-build.XXXXXX")"
  local log="$work/build.log"
  (
    cd "$work"
    run() {
      if ! "$@" >>"$log" 2>&1; then
        cat "$log" >&2
        echo "install-go-tools: failed: $*" >&2
        exit 1
      fi
    }
    run go mod init "${label}-build"
    for pkg in "$@"; do run go get "$pkg@$version"; done
    for pkg in "$@"; do
      run go build -trimpath -o "$work/${pkg##*/}" "$pkg"
      mv -f "$work/${pkg##*/}" "$bin_dir/${pkg##*/}"
      echo "$pkg@$version" >"$bin_dir/${pkg##*/}.version"
    done
  ) || { rm -rf "$work"; exit 1; }
  rm -rf "$work"
  echo "$label $version built in $bin_dir"
}

tools=("$@")
[ "${#tools[@]}" -gt 0 ] || tools=(kubo cluster versitygw)
for t in "${tools[@]}"; do
  case "$t" in
    kubo)
      # a Kubo built before .version files existed is recognised by asking it
      if [ -x "$bin_dir/ipfs" ] && [ ! -f "$bin_dir/ipfs.version" ] &&
        [ "$("$bin_dir/ipfs" version 2>/dev/null)" = "ipfs version ${KUBO_VERSION#v}" ]; then
        echo "github.com/ipfs/kubo/cmd/ipfs@$KUBO_VERSION" >"$bin_dir/ipfs.version"
      fi
      build kubo "$KUBO_VERSION" github.com/ipfs/kubo/cmd/ipfs
      ;;
    cluster)
      build ipfs-cluster "$CLUSTER_VERSION" \
        github.com/ipfs-cluster/ipfs-cluster/cmd/ipfs-cluster-service \
        github.com/ipfs-cluster/ipfs-cluster/cmd/ipfs-cluster-ctl
      ;;
    versitygw) build versitygw "$VERSITYGW_VERSION" github.com/versity/versitygw/cmd/versitygw ;;
    *)
      echo "install-go-tools: unknown tool '$t' (kubo, cluster, versitygw)" >&2
      exit 2
      ;;
  esac
done
