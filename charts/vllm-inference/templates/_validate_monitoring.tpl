{{/*
Monitoring: a known monitor kind (also when the schema is skipped), an alert threshold that is a fraction, and
well-formed extra matchers for the KEDA and kube-state-metrics selectors.
*/}}
{{- define "vllm-inference.validate.monitoring" -}}
{{- $m := .Values.monitoring }}
{{- $e := list }}
{{- if not (has (toString $m.monitor.kind) (list "serviceMonitor" "podMonitor" "none")) }}
{{- $e = append $e (printf "monitoring.monitor.kind is %q: use serviceMonitor, podMonitor or none." (toString $m.monitor.kind)) }}
{{- end }}
{{- $th := $m.prometheusRule.kvCacheHighThreshold | float64 }}
{{- if and $m.prometheusRule.enabled (or (gt $th 1.0) (le $th 0.0)) }}
{{- $e = append $e (printf "monitoring.prometheusRule.kvCacheHighThreshold is %v but vllm:kv_cache_usage_perc is a fraction from 0 to 1: use 0.9 for 90 %%." $m.prometheusRule.kvCacheHighThreshold) }}
{{- end }}
{{- range $key, $m := dict "monitoring.prometheusRule.kedaMatchers" $m.prometheusRule.kedaMatchers "monitoring.kubeStateMetrics.matchers" $m.kubeStateMetrics.matchers }}
{{- if and $m (not (regexMatch (include "vllm-inference.matcherListPattern" $) $m)) }}
{{- $e = append $e (printf "%s %q is not a PromQL matcher list: write label=\"value\" pairs separated by commas (e.g. job=\"kube-state-metrics\")." $key $m) }}
{{- end }}
{{- end }}
{{- toJson $e }}
{{- end }}
