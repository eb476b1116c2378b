{{/*
PromQL: how the autoscalers' queries and the alerts pick this release's series. Two ways (autoscaling.matchBy):
  podLabels  the app_kubernetes_io_* pod labels the chart's ServiceMonitor/PodMonitor copy onto every series
  podName    namespace + pod-name patterns, for collectors that drop or rename pod labels (GKE Managed
             Prometheus, Amazon Managed Prometheus collectors, Azure Monitor keep `namespace` and `pod`)
autoscaling.scopeMatchers / poolMatchers replace the derived matchers. kube-state-metrics series carry their
own `namespace`, `deployment` and `pod` labels, so they are matched the podName way whatever matchBy says.
*/}}

{{/* Pods of one pool's Deployment: <deployment>-<pod-template-hash>-<suffix>. */}}
{{- define "vllm-inference.podNamePattern" -}}
{{- printf "%s-[a-z0-9]+-[a-z0-9]+" (include "vllm-inference.poolFullname" .) }}
{{- end }}

{{/* Pods of every enabled pool, one alternation. */}}
{{- define "vllm-inference.releasePodPattern" -}}
{{- $slugs := list }}
{{- range $pool := include "vllm-inference.poolList" . | fromJsonArray }}{{ $slugs = append $slugs (kebabcase $pool) }}{{ end }}
{{- printf "%s-(%s)-[a-z0-9]+-[a-z0-9]+" (include "vllm-inference.fullname" .) (join "|" $slugs) }}
{{- end }}

{{/* Label matchers scoping a query to this release. */}}
{{- define "vllm-inference.scopeMatchers" -}}
{{- $a := .Values.autoscaling }}
{{- if $a.scopeMatchers }}
{{- $a.scopeMatchers }}
{{- else if eq $a.matchBy "podName" }}
{{- printf "namespace=%q,pod=~%q" .Release.Namespace (include "vllm-inference.releasePodPattern" .) }}
{{- else }}
{{- printf "namespace=%q,app_kubernetes_io_name=%q,app_kubernetes_io_instance=%q" .Release.Namespace (include "vllm-inference.name" .) .Release.Name }}
{{- end }}
{{- end }}

{{/* Matchers of one pool: the release scope plus the pool's own matcher (with podName, its pod pattern alone). */}}
{{- define "vllm-inference.poolMatchers" -}}
{{- $a := .root.Values.autoscaling }}
{{- $scope := include "vllm-inference.scopeMatchers" .root }}
{{- $own := index $a.poolMatchers .pool }}
{{- if and (not $own) (eq $a.matchBy "podName") }}
{{- $own = printf "pod=~%q" (include "vllm-inference.podNamePattern" .) }}
{{- if not $a.scopeMatchers }}{{ $scope = printf "namespace=%q" .root.Release.Namespace }}{{ end }}
{{- else if not $own }}
{{- $own = printf "app_kubernetes_io_component=%q" (include "vllm-inference.poolComponent" .pool) }}
{{- end }}
{{- printf "%s,%s" $scope $own }}
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

{{/* Pod labels the monitors copy onto series (prometheus-operator sanitizes them to app_kubernetes_io_*). */}}
{{- define "vllm-inference.podTargetLabels" -}}
- app.kubernetes.io/name
- app.kubernetes.io/instance
- app.kubernetes.io/component
{{- end }}

{{/* Matchers of a kube-state-metrics selector in the release namespace, plus monitoring.kubeStateMetrics.matchers. */}}
{{- define "vllm-inference.ksmMatchers" -}}
{{- $extra := .Values.monitoring.kubeStateMetrics.matchers }}
{{- printf "namespace=%q%s" .Release.Namespace (ternary (printf ",%s" $extra) "" (ne $extra "")) }}
{{- end }}

{{/*
Available pods of some pools' Deployments, per kube-state-metrics. Call with (dict "root" $ "pools" (list ...)).
*/}}
{{- define "vllm-inference.availablePods" -}}
{{- $names := list }}
{{- range $pool := .pools }}{{ $names = append $names (include "vllm-inference.poolFullname" (dict "root" $.root "pool" $pool)) }}{{ end }}
{{- printf "sum(kube_deployment_status_replicas_available{%s,deployment=~%q})" (include "vllm-inference.ksmMatchers" .root) (join "|" $names) }}
{{- end }}

{{/*
A vllm: query made to read 0 instead of nothing while the pools it reads have no available pod (a pool at zero,
or loading its first model: no pod serves /metrics yet), when keda.zeroWithoutAvailablePods is on. Anything
else absent stays absent, which KEDA (ignoreNullValues "false") counts as an error, so the fallback applies.
Call with (dict "root" $ "pools" (list ...) "query" "...").
*/}}
{{- define "vllm-inference.zeroWithoutPods" -}}
{{- if .root.Values.keda.zeroWithoutAvailablePods }}
{{- printf "(%s) or on() (0 * (%s == 0))" .query (include "vllm-inference.availablePods" .) }}
{{- else }}{{ .query }}{{ end }}
{{- end }}

{{/* KEDA queries. Custom queries (validated as scoped) replace them and are used as written. */}}
{{- define "vllm-inference.query.kvCacheUsage" -}}
{{- $t := .root.Values.autoscaling.triggers.kvCacheUsage }}
{{- if $t.query }}{{ $t.query }}{{ else }}
{{- $q := printf "avg(vllm:kv_cache_usage_perc{%s})" (include "vllm-inference.poolMatchers" .) }}
{{- include "vllm-inference.zeroWithoutPods" (dict "root" .root "pools" (list .pool) "query" $q) }}
{{- end }}
{{- end }}
{{- define "vllm-inference.query.requestsWaiting" -}}
{{- $t := .root.Values.autoscaling.triggers.requestsWaiting }}
{{- if $t.query }}{{ $t.query }}{{ else }}
{{- $share := include "vllm-inference.poolShare" . }}
{{- $q := printf "sum(vllm:num_requests_waiting{%s})" (include "vllm-inference.scopeMatchers" .root) }}
{{- if ne $share "1" }}{{ $q = printf "%s * %s" $share $q }}{{ end }}
{{- include "vllm-inference.zeroWithoutPods" (dict "root" .root "pools" (include "vllm-inference.poolList" .root | fromJsonArray) "query" $q) }}
{{- end }}
{{- end }}

{{/* A PromQL matcher list: label="value" pairs separated by commas (=, !=, =~, !~), the first an equality. */}}
{{- define "vllm-inference.matcherListPattern" -}}
^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|=~)\s*"[^"]+"(\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|=~|!=|!~)\s*"[^"]*")*\s*$
{{- end }}
