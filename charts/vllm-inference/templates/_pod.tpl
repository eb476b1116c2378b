{{/*
The one pod template every pool's Deployment renders. Call with (dict "root" $ "pool" "onDemand"|"spot").
The batch Job renders it too, with "batch" true: component `batch`, restartPolicy Never, the shard wrapper
(templates/_batch.tpl) instead of the server's command, and no port, probes or preStop (nothing routes to it).
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
Node label and values that gpu.type is matched on, as JSON {key, values, source}: the source is gpu.nodeLabel,
`auto` picking the provider's own label; the values come from the catalogue (files/sizing.yaml nodeLabels).
Empty when there is no gpu.type or no label to match.
*/}}
{{- define "vllm-inference.gpuNodeLabel" -}}
{{- $v := .Values }}
{{- $source := $v.gpu.nodeLabel }}
{{- if eq $source "auto" }}
{{- $source = get (dict "gke" "gke" "karpenter" "karpenter" "aks" "aks") $v.capacityType.provider | default "none" }}
{{- end }}
{{- $key := get (dict "gke" "cloud.google.com/gke-accelerator" "karpenter" "karpenter.k8s.aws/instance-gpu-name" "aks" "node.kubernetes.io/instance-type" "gfd" "nvidia.com/gpu.product") $source }}
{{- $gpu := get (.Files.Get "files/sizing.yaml" | fromYaml).gpus (toString $v.gpu.type) }}
{{- if and $key $gpu }}
{{- toJson (dict "key" $key "values" (get $gpu.nodeLabels $source | default list) "source" $source) }}
{{- end }}
{{- end }}

{{/*
Affinity of a pool: the pool's affinity, plus, added to every required node selector term, "label does not
exist" for on-demand pools on providers that mark only spot nodes (gke, aks) and the GPU type's node label.
*/}}
{{- define "vllm-inference.affinity" -}}
{{- $root := .root }}
{{- $p := index $root.Values.pools .pool }}
{{- $aff := deepCopy $p.affinity }}
{{- $provider := $root.Values.capacityType.provider }}
{{- $exprs := list }}
{{- $spotLabel := get (dict "gke" "cloud.google.com/gke-spot" "aks" "kubernetes.azure.com/scalesetpriority") $provider }}
{{- if and (eq .pool "onDemand") $spotLabel }}
{{- $exprs = append $exprs (dict "key" $spotLabel "operator" "DoesNotExist") }}
{{- end }}
{{- with include "vllm-inference.gpuNodeLabel" $root }}
{{- $g := fromJson . }}
{{- if $g.values }}{{ $exprs = append $exprs (dict "key" $g.key "operator" "In" "values" $g.values) }}{{ end }}
{{- end }}
{{- if $exprs }}
{{- $node := get $aff "nodeAffinity" | default dict }}
{{- $req := get $node "requiredDuringSchedulingIgnoredDuringExecution" | default dict }}
{{- $terms := get $req "nodeSelectorTerms" | default (list (dict)) }}
{{- $newTerms := list }}
{{- range $terms }}
{{- $t := deepCopy . }}
{{- $_ := set $t "matchExpressions" (concat (get $t "matchExpressions" | default list) $exprs) }}
{{- $newTerms = append $newTerms $t }}
{{- end }}
{{- $_ := set $req "nodeSelectorTerms" $newTerms }}
{{- $_ := set $node "requiredDuringSchedulingIgnoredDuringExecution" $req }}
{{- $_ := set $aff "nodeAffinity" $node }}
{{- end }}
{{- if $aff }}{{ toYaml $aff }}{{ end }}
{{- end }}

{{/*
Tolerations of a pool: the GPU taint(s) of `tolerations`, the nvidia.com/gpu taint GKE, EKS and AKS GPU nodes
carry, the pool's own, and the provider's spot taint on the spot pool.
*/}}
{{- define "vllm-inference.tolerations" -}}
{{- $root := .root }}
{{- $p := index $root.Values.pools .pool }}
{{- $tol := concat $root.Values.tolerations $p.tolerations }}
{{- if $root.Values.gpu.tolerateGpuTaint }}
{{- $tol = append $tol (dict "key" "nvidia.com/gpu" "operator" "Exists" "effect" "NoSchedule") }}
{{- end }}
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

{{/*
Bytes of ephemeral storage the container may use: the size limits of the disk-backed emptyDirs (HOME, /tmp,
an emptyDir model cache) plus ephemeralStorage.containerOverhead (writable layer, logs).
*/}}
{{- define "vllm-inference.ephemeralStorageBytes" -}}
{{- $v := .Values }}
{{- $sizes := list $v.home.sizeLimit $v.tmp.sizeLimit $v.ephemeralStorage.containerOverhead }}
{{- if eq $v.modelCache.mode "emptyDir" }}{{ $sizes = append $sizes $v.modelCache.emptyDir.sizeLimit }}{{ end }}
{{- $total := 0.0 }}
{{- range $sizes }}{{ $total = addf $total (include "vllm-inference.quantityBytes" . | float64) }}{{ end }}
{{- $total }}
{{- end }}

{{/* Resources with the GPU (requests = limits) and the derived ephemeral storage unless `resources` sets it. */}}
{{- define "vllm-inference.resources" -}}
{{- $res := deepCopy .Values.resources }}
{{- $gpus := include "vllm-inference.gpuCount" . | int }}
{{- $req := get $res "requests" | default dict }}
{{- $lim := get $res "limits" | default dict }}
{{- $_ := set $req .Values.gpu.resourceName $gpus }}
{{- $_ := set $lim .Values.gpu.resourceName $gpus }}
{{- $mi := divf (include "vllm-inference.ephemeralStorageBytes" . | float64) 1048576 | ceil | int64 }}
{{- $storage := ternary (printf "%dGi" (div $mi 1024)) (printf "%dMi" $mi) (eq (mod $mi 1024) 0) }}
{{- if not (hasKey $req "ephemeral-storage") }}{{ $_ := set $req "ephemeral-storage" $storage }}{{ end }}
{{- if not (hasKey $lim "ephemeral-storage") }}{{ $_ := set $lim "ephemeral-storage" $storage }}{{ end }}
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

{{/*
The server's environment for a restricted security context on an image without a passwd entry for its uid
(vllm/vllm-openai): USER/LOGNAME (torch's getpass.getuser() crashes without them), HOME, and every cache vLLM,
torch, triton and flashinfer write pointed at a writable volume, as a JSON list of EnvVar. With
modelCache.persistCompileCache the compile caches live on the model-cache volume. vllm.env may not repeat
these names (templates/_validate_flags.tpl).
*/}}
{{- define "vllm-inference.runtimeEnv" -}}
{{- $v := .Values }}
{{- $home := $v.home.mountPath | trimSuffix "/" }}
{{- $compile := printf "%s/.cache" $home }}
{{- $inductor := "/tmp/torchinductor" }}
{{- $flashinfer := $home }}
{{- if $v.modelCache.persistCompileCache }}
{{- $compile = printf "%s/compile-cache" ($v.modelCache.mountPath | trimSuffix "/") }}
{{- $inductor = printf "%s/torchinductor" $compile }}
{{- $flashinfer = $compile }}
{{- end }}
{{- $env := dict "USER" $v.home.userName "LOGNAME" $v.home.userName "HOME" $home "TMPDIR" "/tmp" "XDG_CACHE_HOME" (printf "%s/.cache" $home) "XDG_CONFIG_HOME" (printf "%s/.config" $home) "VLLM_CACHE_ROOT" (printf "%s/vllm" $compile) "TRITON_CACHE_DIR" (printf "%s/triton" $compile) "TORCHINDUCTOR_CACHE_DIR" $inductor "FLASHINFER_WORKSPACE_BASE" $flashinfer "HF_HOME" $v.modelCache.mountPath }}
{{- $out := list }}
{{- range $name := list "USER" "LOGNAME" "HOME" "TMPDIR" "XDG_CACHE_HOME" "XDG_CONFIG_HOME" "VLLM_CACHE_ROOT" "TRITON_CACHE_DIR" "TORCHINDUCTOR_CACHE_DIR" "FLASHINFER_WORKSPACE_BASE" "HF_HOME" }}
{{- $out = append $out (dict "name" $name "value" (get $env $name)) }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* Environment variables the chart sets from Secrets or switches (vllm.env may not repeat them either). */}}
{{- define "vllm-inference.secretEnvNames" -}}
["HF_TOKEN", "VLLM_API_KEY", "VLLM_ALLOW_RUNTIME_LORA_UPDATING"]
{{- end }}

{{/* The pod template of a pool. */}}
{{- define "vllm-inference.podTemplate" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $p := index $v.pools .pool }}
{{- $drain := include "vllm-inference.drain" . | fromJson }}
{{- $batch := .batch }}
{{- $component := ternary "batch" (include "vllm-inference.poolComponent" .pool) (eq (toString $batch) "true") }}
{{- $selector := dict "root" $root "component" $component -}}
metadata:
  labels:
    {{- include "vllm-inference.labels" $selector | nindent 4 }}
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    kubectl.kubernetes.io/default-container: vllm
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "vllm-inference.serviceAccountName" $root }}
  automountServiceAccountToken: {{ $v.serviceAccount.automountServiceAccountToken }}
  # A Service named like "vllm" would inject VLLM_PORT=tcp://... and crash vLLM.
  enableServiceLinks: false
  {{- if $batch }}
  # A failed shard is replaced by a new pod (the Job's podFailurePolicy reads its exit code), not restarted.
  restartPolicy: Never
  {{- end }}
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
      {{- if $batch }}
      command:
        {{- include "vllm-inference.batchCommand" $root | nindent 8 }}
      args:
        {{- include "vllm-inference.batchArgs" . | nindent 8 }}
      {{- else }}
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
      {{- end }}
      env:
        {{- range include "vllm-inference.runtimeEnv" $root | fromJsonArray }}
        - name: {{ .name }}
          value: {{ .value | quote }}
        {{- end }}
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
        {{- if and $batch $v.batch.schedule }}
        # Each scheduled run writes under its own Job's name; a retried shard of the same run resumes there.
        - name: BATCH_JOB_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.labels['batch.kubernetes.io/job-name']
        {{- end }}
      {{- with $v.vllm.envFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      resources:
        {{- include "vllm-inference.resources" $root | nindent 8 }}
      {{- if and (not $batch) (gt ($drain.preStop | int) 0) }}
      lifecycle:
        preStop:
          # Native sleep action: endpoints are removed from Services and gateways before vLLM stops accepting.
          sleep:
            seconds: {{ $drain.preStop }}
      {{- end }}
      {{- if not $batch }}
      {{- range $probe := list "startup" "readiness" "liveness" }}
      {{ $probe }}Probe:
        {{- include "vllm-inference.probe" (index $v.probes $probe) | nindent 8 }}
      {{- end }}
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
        # HOME: ~/.cache (vLLM, torch compile, triton, flashinfer) and ~/.config stay writable on a read-only root.
        - name: home
          mountPath: {{ $v.home.mountPath }}
        {{- if $batch }}
        - name: batch-data
          mountPath: {{ $v.batch.data.mountPath }}
        - name: batch-wrapper
          mountPath: {{ include "vllm-inference.batchWrapperDir" $root }}
          readOnly: true
        {{- end }}
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
      emptyDir:
        sizeLimit: {{ $v.tmp.sizeLimit }}
    - name: home
      emptyDir:
        sizeLimit: {{ $v.home.sizeLimit }}
    {{- if $batch }}
    - name: batch-data
      {{- if $v.batch.data.existingClaim }}
      persistentVolumeClaim:
        claimName: {{ $v.batch.data.existingClaim }}
      {{- else }}
      {{- toYaml $v.batch.data.volume | nindent 6 }}
      {{- end }}
    - name: batch-wrapper
      configMap:
        name: {{ include "vllm-inference.suffixedName" (dict "root" $root "suffix" "batch") }}
    {{- end }}
    {{- with $v.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
