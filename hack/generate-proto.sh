#!/usr/bin/env bash
# Regenerates the committed gRPC stubs in _proto/ (and the messages' .pyi types, for mypy) from the kubelet's
# device-plugin API (k8s.io/kubelet module of the pinned Kubernetes version). gogo imports/options are
# stripped; `package v1beta1` is kept so the RPC paths are the kubelet's (/v1beta1.Registration/Register,
# /v1beta1.DevicePlugin/...).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/hack/versions.env"
staging="v0.${KUBERNETES_VERSION#v1.}"
dir=$(GOFLAGS=-mod=mod GOTOOLCHAIN=local go mod download -json "k8s.io/kubelet@$staging" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
out="$ROOT/src/gpu_device_plugin/_proto"
mkdir -p "$out"
{
  printf '// From k8s.io/kubelet@%s pkg/apis/deviceplugin/v1beta1/api.proto (gogo options stripped).\n' "$staging"
  grep -v -E 'gogoproto|^import "github.com/gogo' "$dir/pkg/apis/deviceplugin/v1beta1/api.proto"
} >"$out/deviceplugin.proto"
touch "$out/__init__.py"
"$ROOT/.venv/bin/python" -m grpc_tools.protoc -I "$ROOT/src" \
  --python_out="$ROOT/src" --pyi_out="$ROOT/src" --grpc_python_out="$ROOT/src" \
  "$ROOT/src/gpu_device_plugin/_proto/deviceplugin.proto"
echo "generated $(ls "$out")"
