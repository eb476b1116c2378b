{{/*
Names, labels and small value helpers. Every template name carries the chart prefix (template names are
global across subcharts).
*/}}

{{/* Chart name, overridable. */}}
{{- define "vllm-inference.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name prefix of every object: <release>-<chart>, or the release when it already contains the chart name. */}}
{{- define "vllm-inference.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* chart label value: <name>-<version>. */}}
{{- define "vllm-inference.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Standard labels. Call with (dict "root" $ "component" "pool-spot"); component defaults to "server".
*/}}
{{- define "vllm-inference.labels" -}}
{{- $root := .root -}}
helm.sh/chart: {{ include "vllm-inference.chart" $root }}
{{ include "vllm-inference.selectorLabels" . }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: {{ $root.Values.partOf }}
{{- with $root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels: name + instance (+ component when given). Never the version: selectors are immutable.
Call with (dict "root" $ "component" "pool-spot") or (dict "root" $) for the whole release (the Service).
*/}}
{{- define "vllm-inference.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vllm-inference.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/* ServiceAccount name. */}}
{{- define "vllm-inference.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "vllm-inference.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Image reference: the digest wins over the tag; the tag defaults to appVersion. */}}
{{- define "vllm-inference.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Names of the secrets. */}}
{{- define "vllm-inference.hfSecretName" -}}
{{- default (include "vllm-inference.suffixedName" (dict "root" . "suffix" "hf-token")) .Values.huggingface.existingSecret }}
{{- end }}
{{- define "vllm-inference.apiKeySecretName" -}}
{{- default (include "vllm-inference.suffixedName" (dict "root" . "suffix" "api-key")) .Values.auth.existingSecret }}
{{- end }}

{{/* Name of the model cache claim. */}}
{{- define "vllm-inference.cacheClaimName" -}}
{{- if eq .Values.modelCache.mode "existingClaim" }}
{{- .Values.modelCache.existingClaim.name }}
{{- else }}
{{- include "vllm-inference.suffixedName" (dict "root" . "suffix" "model-cache") }}
{{- end }}
{{- end }}

{{/* GPUs per pod: gpu.count, or the tensor-parallel size. */}}
{{- define "vllm-inference.gpuCount" -}}
{{- if kindIs "invalid" .Values.gpu.count }}
{{- .Values.vllm.tensorParallelSize | int }}
{{- else }}
{{- .Values.gpu.count | int }}
{{- end }}
{{- end }}

{{/* Enabled pool keys, space separated, in a fixed order (onDemand first). */}}
{{- define "vllm-inference.enabledPools" -}}
{{- $keys := list }}
{{- range $key := list "onDemand" "spot" }}
{{- if (index $.Values.pools $key).enabled }}
{{- $keys = append $keys $key }}
{{- end }}
{{- end }}
{{- join " " $keys }}
{{- end }}

{{/* Enabled pools as a JSON list (each gets a Deployment, a PDB and, unless autoscaling.mode is none, an autoscaler). */}}
{{- define "vllm-inference.poolList" -}}
{{- include "vllm-inference.enabledPools" . | splitList " " | compact | toJson }}
{{- end }}

{{/* Pool name suffix (on-demand, spot), component label (pool-on-demand) and object name. */}}
{{- define "vllm-inference.poolSlug" -}}
{{- kebabcase . }}
{{- end }}
{{- define "vllm-inference.poolComponent" -}}
{{- printf "pool-%s" (kebabcase .) }}
{{- end }}
{{- define "vllm-inference.poolFullname" -}}
{{- include "vllm-inference.suffixedName" (dict "root" .root "suffix" (kebabcase .pool)) }}
{{- end }}

{{/*
<fullname>-<suffix> within 63 characters: the prefix is shortened, never the suffix, so two objects with
different suffixes never truncate to the same name. Call with (dict "root" $ "suffix" "spot").
*/}}
{{- define "vllm-inference.suffixedName" -}}
{{- printf "%s-%s" (include "vllm-inference.fullname" .root | trunc (int (sub 62 (len .suffix))) | trimSuffix "-") .suffix }}
{{- end }}

{{/*
Drain timing of one pool as JSON {preStop, shutdown, margin, grace, graceExplicit}. The pool's own value
wins when it is not null (0 is a value), else the top-level drain.*.
*/}}
{{- define "vllm-inference.drain" -}}
{{- $root := .root }}
{{- $p := index $root.Values.pools .pool }}
{{- $out := dict }}
{{- range $k, $field := dict "preStop" "preStopSleepSeconds" "shutdown" "shutdownTimeoutSeconds" "margin" "marginSeconds" }}
{{- $v := index $p.drain $field }}
{{- if kindIs "invalid" $v }}{{ $v = index $root.Values.drain $field }}{{ end }}
{{- $_ := set $out $k ($v | int) }}
{{- end }}
{{- if kindIs "invalid" $p.terminationGracePeriodSeconds }}
{{- $_ := set $out "grace" (add $out.preStop $out.shutdown $out.margin) }}
{{- $_ := set $out "graceExplicit" false }}
{{- else }}
{{- $_ := set $out "grace" ($p.terminationGracePeriodSeconds | int) }}
{{- $_ := set $out "graceExplicit" true }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* Spot reclaim notice in seconds for the configured provider. */}}
{{- define "vllm-inference.spotNotice" -}}
{{- if not (kindIs "invalid" .Values.capacityType.spotNoticeSeconds) }}
{{- .Values.capacityType.spotNoticeSeconds | int }}
{{- else }}
{{- /* GKE: 30 s graceful node shutdown, the first 15 s for non-system pods. AWS: a 2-minute notice. */}}
{{- get (dict "gke" 15 "aks" 30 "eks" 120 "karpenter" 120 "labels" 30 "none" 30) .Values.capacityType.provider | default 30 }}
{{- end }}
{{- end }}

{{/*
Share of the demand a pool carries: with both pools, spot = autoscaling.spotShare and on-demand the rest;
a pool alone carries everything.
*/}}
{{- define "vllm-inference.poolShare" -}}
{{- $root := .root }}
{{- $both := and $root.Values.pools.onDemand.enabled $root.Values.pools.spot.enabled }}
{{- $spot := $root.Values.autoscaling.spotShare | float64 }}
{{- if not $both }}1{{ else if eq .pool "spot" }}{{ round $spot 4 }}{{ else }}{{ round (subf 1 $spot) 4 }}{{ end }}
{{- end }}

{{/* Min and max replicas of a pool under autoscaling, as JSON {min, max}. */}}
{{- define "vllm-inference.poolReplicaRange" -}}
{{- $root := .root }}
{{- $p := index $root.Values.pools .pool }}
{{- $max := $p.maxReplicas }}
{{- if kindIs "invalid" $max }}
{{- $total := $root.Values.autoscaling.maxReplicas | int }}
{{- $both := and $root.Values.pools.onDemand.enabled $root.Values.pools.spot.enabled }}
{{- if not $both }}
{{- $max = $total }}
{{- else }}
{{- $spotMax := mulf $total ($root.Values.autoscaling.spotShare | float64) | ceil | int }}
{{- if eq .pool "spot" }}{{ $max = $spotMax }}{{ else }}{{ $max = max 1 (sub $total $spotMax) }}{{ end }}
{{- end }}
{{- end }}
{{- toJson (dict "min" ($p.minReplicas | int) "max" ($max | int)) }}
{{- end }}

{{/* Label matchers scoping a query to this release (what the ServiceMonitor/PodMonitor attach). */}}
{{- define "vllm-inference.scopeMatchers" -}}
{{- if .Values.autoscaling.scopeMatchers }}
{{- .Values.autoscaling.scopeMatchers }}
{{- else }}
{{- printf "namespace=%q,app_kubernetes_io_name=%q,app_kubernetes_io_instance=%q" .Release.Namespace (include "vllm-inference.name" .) .Release.Name }}
{{- end }}
{{- end }}

{{/* Matchers of one pool: the release scope plus the pool's component label. */}}
{{- define "vllm-inference.poolMatchers" -}}
{{- printf "%s,app_kubernetes_io_component=%q" (include "vllm-inference.scopeMatchers" .root) (include "vllm-inference.poolComponent" .pool) }}
{{- end }}

{{/* Metric labels of the release (or of one pool when .pool is set), as the monitors attach them. */}}
{{- define "vllm-inference.metricLabels" -}}
namespace: {{ .root.Release.Namespace }}
app_kubernetes_io_name: {{ include "vllm-inference.name" .root }}
app_kubernetes_io_instance: {{ .root.Release.Name }}
{{- with .pool }}
app_kubernetes_io_component: {{ include "vllm-inference.poolComponent" . }}
{{- end }}
{{- end }}

{{/* KEDA queries. Custom queries (validated as scoped) replace them. */}}
{{- define "vllm-inference.query.kvCacheUsage" -}}
{{- $t := .root.Values.autoscaling.triggers.kvCacheUsage }}
{{- if $t.query }}{{ $t.query }}{{ else }}
{{- printf "avg(vllm:kv_cache_usage_perc{%s})" (include "vllm-inference.poolMatchers" .) }}
{{- end }}
{{- end }}
{{- define "vllm-inference.query.requestsWaiting" -}}
{{- $t := .root.Values.autoscaling.triggers.requestsWaiting }}
{{- if $t.query }}{{ $t.query }}{{ else }}
{{- $share := include "vllm-inference.poolShare" . }}
{{- if eq $share "1" }}
{{- printf "sum(vllm:num_requests_waiting{%s})" (include "vllm-inference.scopeMatchers" .root) }}
{{- else }}
{{- printf "%s * sum(vllm:num_requests_waiting{%s})" $share (include "vllm-inference.scopeMatchers" .root) }}
{{- end }}
{{- end }}
{{- end }}

{{/* Pod labels the monitors copy onto series (prometheus-operator sanitizes them to app_kubernetes_io_*). */}}
{{- define "vllm-inference.podTargetLabels" -}}
- app.kubernetes.io/name
- app.kubernetes.io/instance
- app.kubernetes.io/component
{{- end }}

{{/* --max-num-seqs in effect: the value, or vLLM's default for gpu.type (files/sizing.yaml, from the catalogue). */}}
{{- define "vllm-inference.maxNumSeqs" -}}
{{- if not (kindIs "invalid" .Values.vllm.maxNumSeqs) }}
{{- .Values.vllm.maxNumSeqs | int }}
{{- else }}
{{- $s := .Files.Get "files/sizing.yaml" | fromYaml }}
{{- dig .Values.gpu.type "maxNumSeqs" $s.defaults.maxNumSeqs $s.gpus | int }}
{{- end }}
{{- end }}

{{/*
Labels of the helm test pods. They carry a different app.kubernetes.io/name so the Service, which selects
name + instance, never routes API traffic to a test pod.
*/}}
{{- define "vllm-inference.testSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-test" (include "vllm-inference.name" .) }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: test
{{- end }}
