{{/*
A helm test pod: python3 (standard library only) against the Service, running files/tests/helmtest.py (BASE,
MODEL, req()) followed by files/tests/<script> without its `from helmtest import` line. Both are real files
that ruff lints. Call with (dict "root" $ "name" "chat-stream" "script" "chat_stream.py"). VLLM_API_KEY comes
from the same Secret as the server's when auth is on.
*/}}
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
          {{- $source := printf "%s\n%s" ($root.Files.Get "files/tests/helmtest.py") ($root.Files.Get (printf "files/tests/%s" .script)) }}
          {{- regexReplaceAll "(?m)^ +$" (regexReplaceAll "(?m)^from helmtest import .*\n" $source "" | nindent 10) "" }}
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
