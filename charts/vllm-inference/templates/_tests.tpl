{{/*
helm test pods: python3 (standard library only) against the Service. Call with
(dict "root" $ "name" "models" "script" "<python source>"). The script gets BASE, MODEL and the helper
functions below; VLLM_API_KEY comes from the same Secret as the server's when auth is on.
*/}}
{{- define "vllm-inference.testPrelude" -}}
import json, os, sys, time, urllib.request, urllib.error
BASE = os.environ["BASE_URL"]
MODEL = os.environ["MODEL"]
def req(path, body=None):
    headers = {"Content-Type": "application/json"}
    if os.environ.get("VLLM_API_KEY"):
        headers["Authorization"] = "Bearer " + os.environ["VLLM_API_KEY"]
    data = json.dumps(body).encode() if body is not None else None
    deadline = time.time() + 120
    while True:
        try:
            return urllib.request.urlopen(urllib.request.Request(BASE + path, data=data, headers=headers), timeout=120)
        except urllib.error.HTTPError as err:
            if err.code not in (502, 503) or time.time() > deadline:
                sys.exit(f"{path}: HTTP {err.code}: {err.read()[:300]!r}")
        except OSError as err:
            if time.time() > deadline:
                sys.exit(f"{path}: {err}")
        time.sleep(3)
{{- end }}

{{- define "vllm-inference.testPod" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
apiVersion: v1
kind: Pod
metadata:
  name: {{ include "vllm-inference.suffixedName" (dict "root" $root "suffix" (printf "test-%s" .name)) }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    helm.sh/chart: {{ include "vllm-inference.chart" $root }}
    {{- include "vllm-inference.testSelectorLabels" $root | nindent 4 }}
    app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
    app.kubernetes.io/managed-by: {{ $root.Release.Service }}
    app.kubernetes.io/part-of: {{ $v.partOf }}
  annotations:
    helm.sh/hook: test
    helm.sh/hook-delete-policy: before-hook-creation
spec:
  restartPolicy: Never
  enableServiceLinks: false
  automountServiceAccountToken: false
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.tests.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.tests.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 1000
    runAsGroup: 1000
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: test
      image: {{ printf "%s:%s" $v.tests.image.repository $v.tests.image.tag }}
      imagePullPolicy: {{ $v.tests.image.pullPolicy }}
      command:
        - python3
        - -c
        - |
          {{- include "vllm-inference.testPrelude" $root | nindent 10 }}
          {{- .script | nindent 10 }}
      env:
        - name: BASE_URL
          value: {{ printf "http://%s.%s.svc:%v" (include "vllm-inference.fullname" $root) $root.Release.Namespace $v.service.port | quote }}
        - name: MODEL
          value: {{ (first $v.model.servedModelName) | default $v.model.name | quote }}
        - name: PROMPT
          value: {{ $v.tests.prompt | quote }}
        - name: MAX_TOKENS
          value: {{ $v.tests.maxTokens | quote }}
        {{- if $v.auth.enabled }}
        - name: VLLM_API_KEY
          valueFrom:
            secretKeyRef:
              name: {{ include "vllm-inference.apiKeySecretName" $root }}
              key: {{ $v.auth.secretKey }}
        {{- end }}
      resources:
        requests:
          cpu: 50m
          memory: 64Mi
        limits:
          memory: 128Mi
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities:
          drop:
            - ALL
{{- end }}
