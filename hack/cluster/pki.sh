#!/usr/bin/env bash
# Generates the local cluster's certificates and keys with openssl, and the admin kubeconfig.
# Idempotent: existing files are kept, so a second cluster-up reuses them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

mkdir -p "$PKI"
cd "$PKI"

# ca NAME CN: a self-signed CA.
ca() {
  [[ -f $1.crt ]] && return
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.crt" -days 3650 -subj "/CN=$2" 2>/dev/null
}

# leaf NAME CA SUBJECT EXTENSIONS: a certificate signed by CA.
leaf() {
  local name=$1 ca=$2 subj=$3 ext=$4
  [[ -f $name.crt ]] && return
  openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subj" 2>/dev/null
  printf '%s\n' "$ext" >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial -days 3650 \
    -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

client_ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"

ca ca vllm-inference-local-ca
ca front-proxy-ca vllm-inference-local-front-proxy-ca
# The API server listens on the bridge address; the first service IP (198.19.0.1) is the `kubernetes`
# Service. A certificate of an older cluster without the bridge address is replaced.
if [[ -f apiserver.crt ]] && ! openssl x509 -in apiserver.crt -noout -ext subjectAltName 2>/dev/null |
  grep -qF "IP Address:$BRIDGE_IP"; then
  rm -f apiserver.crt apiserver.key
fi
leaf apiserver ca "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$BRIDGE_IP,IP:127.0.0.1,IP:198.19.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN"
leaf admin ca "/O=system:masters/CN=vllm-inference-admin" "$client_ext"
# The aggregator's client certificate (aggregated APIs such as KEDA's metrics server trust it).
leaf front-proxy-client front-proxy-ca "/CN=front-proxy-client" "$client_ext"
[[ -f sa.key ]] || {
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
}

b64() { base64 -w0 <"$1"; }
cat >"$KUBECONFIG_FILE.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: vllm-inference-local
  cluster:
    server: $APISERVER_URL
    certificate-authority-data: $(b64 ca.crt)
users:
- name: admin
  user:
    client-certificate-data: $(b64 admin.crt)
    client-key-data: $(b64 admin.key)
contexts:
- name: vllm-inference-local
  context:
    cluster: vllm-inference-local
    user: admin
current-context: vllm-inference-local
EOF
chmod 600 "$KUBECONFIG_FILE.tmp"
mv "$KUBECONFIG_FILE.tmp" "$KUBECONFIG_FILE"
