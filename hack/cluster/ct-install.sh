#!/usr/bin/env bash
# `ct install` of the chart against the cluster of $KUBECONFIG (the local cluster by default, kind in CI), with
# the chart's ci/ values files that a simulator cluster can satisfy: ct installs the chart once per file
# (helm install --wait in a fresh namespace), runs helm test, and uninstalls.
#
# The simulator stands in for vLLM and the fake device plugin for the GPUs, so each file is laid over the
# simulator's settings (tests/e2e/values/ct-sim.yaml: image, pull policy, small resources, GKE node pools,
# the real nodes) in a copy of the chart whose ci/ holds those merged files: what a file sets wins. Files left
# out need what such a cluster lacks: another provider's node labels (provider-aks/eks/labels, spot:
# karpenter), existing Secrets or claims (auth-existing, cache-existing, keda-auth, batch: tests/e2e/test_batch.py
# binds one and runs it; batch-cron: an Azure Files CSI volume), a ReadWriteMany storage
# class (cache-pvc), a RuntimeClass (runtime-class), an image digest (image-digest), 8 GPUs on a node (tp8),
# LoRA adapter files (lora), KEDA itself to scale from zero (keda-scale-to-zero).
# Usage: ct-install.sh [CI_FILE_NAME...]   (default: every file below)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

FILES=(
  auth embeddings gateway hpa hpa-pods ingress keda monitoring networkpolicy podmonitor prefix-caching-off
  prefix-caching-on provider-gke spot-only tp2 tp4
)
(($# == 0)) || FILES=("$@")
export KUBECONFIG="${KUBECONFIG:-$KUBECONFIG_FILE}"
export PATH="$ROOT/.tools/bin:$ROOT/.venv/bin:$PATH"
command -v ct >/dev/null || die "ct not found: run make tools"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$ROOT/charts/vllm-inference" "$work/vllm-inference"
rm -f "$work/vllm-inference/ci/"*.yaml
for name in "${FILES[@]}"; do
  src="$ROOT/charts/vllm-inference/ci/$name-values.yaml"
  [[ -f $src ]] || die "no ci values file $src"
  python3 - "$ROOT/tests/e2e/values/ct-sim.yaml" "$src" "$work/vllm-inference/ci/$name-values.yaml" <<'PY'
import sys
import yaml

def merge(base, over):
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{k: merge(base.get(k), v) for k, v in over.items()}}
    return over

base, over, out = (sys.argv[1], sys.argv[2], sys.argv[3])
with open(base) as b, open(over) as o, open(out, "w") as w:
    yaml.safe_dump(merge(yaml.safe_load(b), yaml.safe_load(o) or {}), w, sort_keys=False)
PY
done
# The custom resources some files render (ServiceMonitor, ScaledObject, HTTPRoute...) need their CRDs: those
# of .tools/share/crds (make tools) that the cluster lacks are created, and stay.
for crd in "$ROOT"/.tools/share/crds/*/*.yaml; do
  grep -q '^kind: CustomResourceDefinition' "$crd" || continue
  name=$(awk '/^metadata:/ {m = 1} m && /^  name:/ {print $2; exit}' "$crd")
  kubectl get crd "$name" >/dev/null 2>&1 || kubectl create -f "$crd" >/dev/null
done
kubectl wait --for=condition=Established crd --all --timeout=60s >/dev/null
log "ct install: ${#FILES[@]} ci values files over the simulator's settings, against $(kubectl config current-context)"
cd "$ROOT" # ct.yaml's paths are relative to the checkout
ct install --config ct.yaml --chart-dirs "$work" --charts "$work/vllm-inference" --helm-extra-args "--timeout 180s"
