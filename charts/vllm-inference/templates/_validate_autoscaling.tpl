{{/*
Autoscaling (autoscaling.mode keda or hpa): a vLLM metric to scale on, thresholds in the metric's own units,
queries scoped to the release and on current metric names, replica bounds each pool can honour.
*/}}
{{- define "vllm-inference.validate.autoscaling" -}}
{{- $v := .Values }}
{{- $a := $v.autoscaling }}
{{- $e := list }}
{{- if not (has (toString $a.mode) (list "keda" "hpa" "none")) }}
{{- $e = append $e (printf "autoscaling.mode is %q: use keda (a ScaledObject per pool), hpa (an autoscaling/v2 HPA per pool) or none." (toString $a.mode)) }}
{{- else if ne $a.mode "none" }}
{{- $keda := eq $a.mode "keda" }}
{{- $t := $a.triggers }}
{{- if not (or $t.kvCacheUsage.enabled $t.requestsWaiting.enabled) }}
{{- $e = append $e (printf "autoscaling.mode is %s but autoscaling.triggers.kvCacheUsage.enabled and autoscaling.triggers.requestsWaiting.enabled are both false: enable at least one vLLM metric (the chart never scales on CPU)." $a.mode) }}
{{- end }}
{{- $th := $t.kvCacheUsage.threshold }}
{{- if not (or (kindIs "float64" $th) (kindIs "int64" $th) (kindIs "int" $th)) }}
{{- $e = append $e (printf "autoscaling.triggers.kvCacheUsage.threshold is the string %q: it must be a number, and vllm:kv_cache_usage_perc is a fraction from 0 to 1 (0.7 = 70 %%)." (toString $th)) }}
{{- else if or (gt ($th | float64) 1.0) (le ($th | float64) 0.0) }}
{{- $e = append $e (printf "autoscaling.triggers.kvCacheUsage.threshold is %v but vllm:kv_cache_usage_perc is a fraction from 0 to 1: use 0.7 for 70 %%." $th) }}
{{- end }}
{{- if le ($t.requestsWaiting.threshold | float64) 0.0 }}
{{- $e = append $e "autoscaling.triggers.requestsWaiting.threshold must be above 0 (queued requests per replica)." }}
{{- end }}
{{- $share := $a.spotShare | float64 }}
{{- if and $v.pools.onDemand.enabled $v.pools.spot.enabled (or (le $share 0.0) (ge $share 1.0)) }}
{{- $e = append $e (printf "autoscaling.spotShare is %v but both pools run: use a fraction strictly between 0 and 1 (0.7 = 70 %% spot), or disable a pool." $a.spotShare) }}
{{- end }}
{{- range $name, $trig := $t }}
{{- with $trig.query }}
{{- $q := . }}
{{- range $old := list "vllm:gpu_cache_usage_perc" "vllm:cpu_cache_usage_perc" "vllm:gpu_prefix_cache_queries" "vllm:gpu_prefix_cache_hits" "vllm:cpu_prefix_cache_queries" "vllm:cpu_prefix_cache_hits" }}
{{- if contains $old $q }}
{{- $e = append $e (printf "autoscaling.triggers.%s.query uses %s, which vLLM removed (0.12): use vllm:kv_cache_usage_perc (a fraction 0-1) or the vllm:prefix_cache_* counters." $name $old) }}
{{- end }}
{{- end }}
{{- $all := regexFindAll "vllm:[a-zA-Z0-9_:]+" $q -1 }}
{{- $scoped := regexFindAll "vllm:[a-zA-Z0-9_:]+\\s*\\{[^}]*[a-zA-Z_]+\\s*(=|=~)\\s*\"[^\"]+\"" $q -1 }}
{{- if or (not $all) (ne (len $all) (len $scoped)) }}
{{- $e = append $e (printf "autoscaling.triggers.%s.query %q is not scoped: every vllm: metric needs label matchers (e.g. {%s}) or it aggregates every vLLM in the cluster." $name $q (include "vllm-inference.scopeMatchers" $)) }}
{{- end }}
{{- if not $keda }}
{{- $e = append $e (printf "autoscaling.triggers.%s.query is set but autoscaling.mode is hpa: the HPA reads the adapter metric hpa.metricNames.%s, so the query would be silently ignored. Put it in your prometheus-adapter rule (docs/chart.md) or use autoscaling.mode: keda." $name $name) }}
{{- end }}
{{- end }}
{{- end }}
{{- with $a.scopeMatchers }}
{{- if not (regexMatch "^\\s*[a-zA-Z_][a-zA-Z0-9_]*\\s*(=|=~)\\s*\"[^\"]+\"(\\s*,\\s*[a-zA-Z_][a-zA-Z0-9_]*\\s*(=|=~|!=|!~)\\s*\"[^\"]*\")*\\s*$" .) }}
{{- $e = append $e (printf "autoscaling.scopeMatchers %q is not a PromQL matcher list: write label=\"value\" pairs separated by commas, the first an equality (e.g. namespace=\"inference\",app_kubernetes_io_instance=\"llm\")." .) }}
{{- end }}
{{- end }}
{{- range $pool := include "vllm-inference.poolList" . | fromJsonArray }}
{{- $r := include "vllm-inference.poolReplicaRange" (dict "root" $ "pool" $pool) | fromJson }}
{{- if gt ($r.min | int) ($r.max | int) }}
{{- $e = append $e (printf "pools.%s.minReplicas (%d) is greater than its maxReplicas (%d, pools.%s.maxReplicas or derived from autoscaling.maxReplicas x spotShare)." $pool ($r.min | int) ($r.max | int) $pool) }}
{{- end }}
{{- if lt ($r.max | int) 1 }}
{{- $e = append $e (printf "pools.%s.maxReplicas is %d: a scaled pool needs at least 1 (raise autoscaling.maxReplicas or set pools.%s.maxReplicas)." $pool ($r.max | int) $pool) }}
{{- end }}
{{- if and (eq ($r.min | int) 0) (not $keda) }}
{{- $e = append $e (printf "pools.%s.minReplicas is 0 but autoscaling.mode is hpa: an HPA cannot scale to zero (HPAScaleToZero is alpha). Use autoscaling.mode: keda or minReplicas >= 1." $pool) }}
{{- end }}
{{- end }}
{{- if and $keda $v.keda.authentication.enabled (not $v.keda.authentication.secretName) }}
{{- $e = append $e "keda.authentication.enabled is true but keda.authentication.secretName is empty." }}
{{- end }}
{{- end }}
{{- toJson $e }}
{{- end }}
