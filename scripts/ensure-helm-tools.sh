#!/usr/bin/env bash
# The tools the Helm chart's tests run (test/deploy/): helm v4 and kubeconform, each built once from the Go
# module proxy at a pinned version into the cache (scripts/go-tool.sh); a no-op when both are there.
# Prints `HELM=<path>` and `KUBECONFORM=<path>` lines, for eval. HELM_VERSION / KUBECONFORM_VERSION override.
# On a fresh machine the two build side by side, helm on both cores (it is the big one: about 3 minutes of
# CPU; kubeconform about 30 s): the tests wait for them and run nothing else meanwhile.
set -euo pipefail
here="$(dirname "$0")"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
bash "$here/go-tool.sh" kubeconform github.com/yannh/kubeconform/cmd/kubeconform "${KUBECONFORM_VERSION:-v0.8.0}" >"$out/kubeconform" &
kubeconform_build=$!
helm=$(GO_TOOL_JOBS=2 bash "$here/go-tool.sh" helm helm.sh/helm/v4/cmd/helm "${HELM_VERSION:-v4.3.2}")
wait "$kubeconform_build"
printf 'HELM=%q\nKUBECONFORM=%q\n' "$helm" "$(cat "$out/kubeconform")"
