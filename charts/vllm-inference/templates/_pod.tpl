{{/*
The one pod template every pool's Deployment renders. Call with (dict "root" $ "pool" "onDemand"|"spot").
*/}}

{{/* Node selection of a pool: provider capacity labels + explicit labels + the pool's nodeSelector. */}}
{{- define "vllm-inference.nodeSelector" -}}
{{- $root := .root }}
{{- $p := index $root.Values.pools .pool }}
{{- $spot := eq .pool "spot" }}
{{- $provider := $root.Values.capacityType.provider }}
{{- $sel := dict }}
{{- if eq $provider "karpenter" }}
{{- $_ := set $sel "karpenter.sh/capacity-type" (ternary "spot" "on-demand" $spot) }}
{{- else if eq $provider "eks" }}
{{- $_ := set $sel "eks.amazonaws.com/capacityType" (ternary "SPOT" "ON_DEMAND" $spot) }}
{{- else if and (eq $provider "gke") $spot }}
{{- $_ := set $sel "cloud.google.com/gke-spot" "true" }}
{{- else if and (eq $provider "aks") $spot }}
{{- $_ := set $sel "kubernetes.azure.com/scalesetpriority" "spot" }}
{{- end }}
{{- $sel = merge (deepCopy $p.nodeSelector) $p.capacityLabels $sel }}
{{- if $sel }}{{ toYaml $sel }}{{ end }}
{{- end }}

{{/*
Affinity of a pool: the pool's affinity, plus "label does not exist" for on-demand pools on providers that
mark only spot nodes (gke, aks), added to every required node selector term.
*/}}
{{- define "vllm-inference.affinity" -}}
{{- $root := .root }}
{{- $p := index $root.Values.pools .pool }}
{{- $aff := deepCopy $p.affinity }}
{{- $provider := $root.Values.capacityType.provider }}
{{- $spotLabel := get (dict "gke" "cloud.google.com/gke-spot" "aks" "kubernetes.azure.com/scalesetpriority") $provider }}
{{- if and (eq .pool "onDemand") $spotLabel }}
{{- $expr := dict "key" $spotLabel "operator" "DoesNotExist" }}
{{- $node := get $aff "nodeAffinity" | default dict }}
{{- $req := get $node "requiredDuringSchedulingIgnoredDuringExecution" | default dict }}
{{- $terms := get $req "nodeSelectorTerms" | default (list (dict)) }}
{{- $newTerms := list }}
{{- range $terms }}
{{- $t := deepCopy . }}
{{- $_ := set $t "matchExpressions" (append (get $t "matchExpressions" | default list) $expr) }}
{{- $newTerms = append $newTerms $t }}
{{- end }}
{{- $_ := set $req "nodeSelectorTerms" $newTerms }}
{{- $_ := set $node "requiredDuringSchedulingIgnoredDuringExecution" $req }}
{{- $_ := set $aff "nodeAffinity" $node }}
{{- end }}
{{- if $aff }}{{ toYaml $aff }}{{ end }}
{{- end }}

{{/* Tolerations of a pool: the GPU taint(s), the pool's own, and the provider's spot taint on the spot pool. */}}
{{- define "vllm-inference.tolerations" -}}
{{- $root := .root }}
{{- $p := index $root.Values.pools .pool }}
{{- $tol := concat $root.Values.tolerations $p.tolerations }}
{{- if eq .pool "spot" }}
{{- $provider := $root.Values.capacityType.provider }}
{{- if eq $provider "aks" }}
{{- $tol = append $tol (dict "key" "kubernetes.azure.com/scalesetpriority" "operator" "Equal" "value" "spot" "effect" "NoSchedule") }}
{{- else if eq $provider "gke" }}
{{- $tol = append $tol (dict "key" "cloud.google.com/gke-spot" "operator" "Equal" "value" "true" "effect" "NoSchedule") }}
{{- end }}
{{- end }}
{{- if $tol }}{{ toYaml $tol }}{{ end }}
{{- end }}

{{/* Resources with the GPU added to requests and limits alike. */}}
{{- define "vllm-inference.resources" -}}
{{- $res := deepCopy .Values.resources }}
{{- $gpus := include "vllm-inference.gpuCount" . | int }}
{{- $req := get $res "requests" | default dict }}
{{- $lim := get $res "limits" | default dict }}
{{- $_ := set $req .Values.gpu.resourceName $gpus }}
{{- $_ := set $lim .Values.gpu.resourceName $gpus }}
{{- $_ := set $res "requests" $req }}
{{- $_ := set $res "limits" $lim }}
{{- toYaml $res }}
{{- end }}

{{/*
One probe of the vLLM container, with its timing from probes.<startup|readiness|liveness>. All three ask
/health on the server port: vLLM listens only once the model is loaded, and answers 503 when the engine is
dead or, with a shutdown timeout, while it drains.
*/}}
{{- define "vllm-inference.probe" -}}
httpGet:
  path: /health
  port: http
{{ toYaml . }}
{{- end }}

{{/* The pod template of a pool. */}}
{{- define "vllm-inference.podTemplate" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $p := index $v.pools .pool }}
{{- $drain := include "vllm-inference.drain" . | fromJson }}
{{- $component := include "vllm-inference.poolComponent" .pool }}
{{- $selector := dict "root" $root "component" $component -}}
metadata:
  labels:
    {{- include "vllm-inference.labels" $selector | nindent 4 }}
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    kubectl.kubernetes.io/default-container: vllm
    {{- if and (not $v.auth.existingSecret) $v.auth.enabled }}
    checksum/api-key: {{ $v.auth.apiKey | sha256sum | trunc 16 }}
    {{- end }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "vllm-inference.serviceAccountName" $root }}
  automountServiceAccountToken: {{ $v.serviceAccount.automountServiceAccountToken }}
  # A Service named like "vllm" would inject VLLM_PORT=tcp://... and crash vLLM.
  enableServiceLinks: false
  terminationGracePeriodSeconds: {{ $drain.grace }}
  {{- with $v.runtimeClassName }}
  runtimeClassName: {{ . }}
  {{- end }}
  {{- with $p.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $v.podSecurityContext | nindent 4 }}
  {{- with include "vllm-inference.nodeSelector" . }}
  nodeSelector:
    {{- . | nindent 4 }}
  {{- end }}
  {{- with include "vllm-inference.affinity" . }}
  affinity:
    {{- . | nindent 4 }}
  {{- end }}
  {{- with include "vllm-inference.tolerations" . }}
  tolerations:
    {{- . | nindent 4 }}
  {{- end }}
  {{- if $v.topologySpread.enabled }}
  topologySpreadConstraints:
    {{- range $key, $when := dict "kubernetes.io/hostname" $v.topologySpread.hostnameWhenUnsatisfiable "topology.kubernetes.io/zone" $v.topologySpread.zoneWhenUnsatisfiable }}
    - topologyKey: {{ $key }}
      maxSkew: {{ $v.topologySpread.maxSkew }}
      whenUnsatisfiable: {{ $when }}
      labelSelector:
        matchLabels:
          {{- include "vllm-inference.selectorLabels" $selector | nindent 10 }}
      matchLabelKeys:
        - pod-template-hash
    {{- end }}
  {{- end }}
  containers:
    - name: vllm
      image: {{ include "vllm-inference.image" $root }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      {{- with $v.command }}
      command:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      args:
        {{- include "vllm-inference.args" . | nindent 8 }}
      ports:
        - name: http
          containerPort: {{ $v.vllm.port }}
          protocol: TCP
      env:
        - name: HOME
          value: /home/vllm
        - name: HF_HOME
          value: {{ $v.modelCache.mountPath }}
        {{- if or $v.huggingface.existingSecret $v.huggingface.token }}
        - name: HF_TOKEN
          valueFrom:
            secretKeyRef:
              name: {{ include "vllm-inference.hfSecretName" $root }}
              key: {{ $v.huggingface.secretKey }}
        {{- end }}
        {{- if $v.auth.enabled }}
        - name: VLLM_API_KEY
          valueFrom:
            secretKeyRef:
              name: {{ include "vllm-inference.apiKeySecretName" $root }}
              key: {{ $v.auth.secretKey }}
        {{- end }}
        {{- if and $v.vllm.lora.enabled $v.vllm.lora.runtimeUpdates }}
        - name: VLLM_ALLOW_RUNTIME_LORA_UPDATING
          value: "True"
        {{- end }}
        {{- with $v.vllm.env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $v.vllm.envFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      resources:
        {{- include "vllm-inference.resources" $root | nindent 8 }}
      {{- if gt ($drain.preStop | int) 0 }}
      lifecycle:
        preStop:
          # Native sleep action: endpoints are removed from Services and gateways before vLLM stops accepting.
          sleep:
            seconds: {{ $drain.preStop }}
      {{- end }}
      {{- range $probe := list "startup" "readiness" "liveness" }}
      {{ $probe }}Probe:
        {{- include "vllm-inference.probe" (index $v.probes $probe) | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $v.securityContext | nindent 8 }}
      volumeMounts:
        - name: model-cache
          mountPath: {{ $v.modelCache.mountPath }}
          {{- if and (eq $v.modelCache.mode "existingClaim") $v.modelCache.existingClaim.readOnly }}
          readOnly: true
          {{- end }}
        - name: dshm
          mountPath: /dev/shm
        - name: tmp
          mountPath: /tmp
        # HOME: ~/.cache (vLLM, torch compile, triton) and ~/.config stay writable on a read-only root.
        - name: home
          mountPath: /home/vllm
        {{- with $v.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: model-cache
      {{- if eq $v.modelCache.mode "emptyDir" }}
      emptyDir:
        sizeLimit: {{ $v.modelCache.emptyDir.sizeLimit }}
      {{- else }}
      persistentVolumeClaim:
        claimName: {{ include "vllm-inference.cacheClaimName" $root }}
        {{- if and (eq $v.modelCache.mode "existingClaim") $v.modelCache.existingClaim.readOnly }}
        readOnly: true
        {{- end }}
      {{- end }}
    - name: dshm
      emptyDir:
        medium: Memory
        sizeLimit: {{ $v.shm.sizeLimit }}
    - name: tmp
      emptyDir: {}
    - name: home
      emptyDir: {}
    {{- with $v.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
