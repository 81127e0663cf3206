#!/usr/bin/env bash
# Builds upstream kube-apiserver, kube-controller-manager, kube-scheduler and etcd from their Go modules at
# the versions pinned in versions.env, into a cache directory outside the checkout, and prints that
# directory. Idempotent: a build whose inputs (versions, go.mod, go.sum, the mains) are unchanged is
# reused. Needs Go and the Go module proxy; the Go build and module caches stay where Go keeps them.
#
#   upstream/build.sh            # builds (or reuses) and prints the bin directory
#   THEMELIOS_UPSTREAM_CACHE=DIR # where builds are kept (default ~/.cache/themelios-upstream)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

command -v go >/dev/null || { echo "upstream/build.sh: Go is not installed; the upstream suites need it (https://go.dev/dl)" >&2; exit 3; }

required="$(sed -n 's/^\tk8s.io\/kubernetes \(v[^ ]*\)$/\1/p' "$here/go.mod")"
if [ "$required" != "$KUBERNETES_VERSION" ]; then
  echo "upstream/build.sh: go.mod requires k8s.io/kubernetes $required but versions.env pins $KUBERNETES_VERSION" >&2
  exit 2
fi
etcd_required="$(sed -n 's/^\tgo.etcd.io\/etcd\/server\/v3 \(v[^ ]*\)$/\1/p' "$here/go.mod")"
if [ "$etcd_required" != "$ETCD_VERSION" ]; then
  echo "upstream/build.sh: go.mod requires etcd $etcd_required but versions.env pins $ETCD_VERSION" >&2
  exit 2
fi

inputs_hash="$(cd "$here" && cat versions.env go.mod go.sum build.sh $(find cmd -name '*.go' | sort) | sha256sum | cut -c1-12)"
cache="${THEMELIOS_UPSTREAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/themelios-upstream}"
out="$cache/kubernetes-$KUBERNETES_VERSION-etcd-$ETCD_VERSION-$inputs_hash"
components=(kube-apiserver kube-controller-manager kube-scheduler etcd)

if [ -f "$out/.complete" ]; then
  echo "$out/bin"
  exit 0
fi

major="${KUBERNETES_VERSION#v}"; minor="${major#*.}"; major="${major%%.*}"; minor="${minor%%.*}"
version_pkg=k8s.io/component-base/version
ldflags="-s -w -X $version_pkg.gitVersion=$KUBERNETES_VERSION -X $version_pkg.gitMajor=$major"
ldflags+=" -X $version_pkg.gitMinor=$minor -X $version_pkg.gitTreeState=clean"
ldflags+=" -X $version_pkg.buildDate=1970-01-01T00:00:00Z"

rm -rf "$out.partial"
mkdir -p "$out.partial/bin"
start=$SECONDS
for component in "${components[@]}"; do
  echo "--- building $component (kubernetes $KUBERNETES_VERSION, etcd $ETCD_VERSION) into $out" >&2
  (cd "$here" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out.partial/bin/$component" "./cmd/$component") >&2
  echo "    done after $((SECONDS - start)) s" >&2
done
touch "$out.partial/.complete"
rm -rf "$out"
mv "$out.partial" "$out"
echo "$out/bin"
