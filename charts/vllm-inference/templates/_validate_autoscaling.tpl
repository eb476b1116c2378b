{{/*
Autoscaling (autoscaling.mode keda or hpa): a vLLM metric to scale on, thresholds in the metric's own units,
queries scoped to the release and on current metric names, replica bounds each pool can honour, a pool at zero
that something can wake, on-demand failover capacity, and credentials for the Prometheus KEDA queries.
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
{{- $res := include "vllm-inference.kedaResolution" $ | float64 }}
{{- $resWhy := printf "KEDA rounds thresholds to 3 decimals (the HPA compares milli-units), so below %v one becomes 0 (under 0.0005) or a coarser figure than asked, and at 0 the pool never scales, on any of its triggers" $res }}
{{- if not (or $t.kvCacheUsage.enabled $t.requestsWaiting.enabled) }}
{{- $e = append $e (printf "autoscaling.mode is %s but autoscaling.triggers.kvCacheUsage.enabled and autoscaling.triggers.requestsWaiting.enabled are both false: enable at least one vLLM metric (the chart never scales on CPU)." $a.mode) }}
{{- end }}
{{- $th := $t.kvCacheUsage.threshold }}
{{- if not (or (kindIs "float64" $th) (kindIs "int64" $th) (kindIs "int" $th) (regexMatch (include "vllm-inference.decimalPattern" $) (toString $th))) }}
{{- $e = append $e (printf "autoscaling.triggers.kvCacheUsage.threshold is the string %q: it must be a number, and vllm:kv_cache_usage_perc is a fraction from 0 to 1 (0.7 = 70 %%)." (toString $th)) }}
{{- else if or (gt ($th | float64) 1.0) (le ($th | float64) 0.0) }}
{{- $e = append $e (printf "autoscaling.triggers.kvCacheUsage.threshold is %v but vllm:kv_cache_usage_perc is a fraction from 0 to 1: use 0.7 for 70 %%." $th) }}
{{- else if lt ($th | float64) $res }}
{{- $e = append $e (printf "autoscaling.triggers.kvCacheUsage.threshold is %v: %s. KV-cache usage that low means the cache is not what saturates the replica: set autoscaling.triggers.kvCacheUsage.enabled: false (leave the threshold at its default) and let the queue trigger scale the pool." $th $resWhy) }}
{{- end }}
{{- $rw := $t.requestsWaiting.threshold | float64 }}
{{- if le $rw 0.0 }}
{{- $e = append $e "autoscaling.triggers.requestsWaiting.threshold must be above 0 (queued requests per replica)." }}
{{- else if lt $rw $res }}
{{- $e = append $e (printf "autoscaling.triggers.requestsWaiting.threshold is %v: %s: use at least %v queued requests per replica (1 or more in practice)." $t.requestsWaiting.threshold $resWhy $res) }}
{{- end }}
{{- /* The wake threshold and the activation thresholds: below 0 is the numbers concern's */}}
{{- if and $keda (gt ($t.wake.threshold | float64) 0.0) (lt ($t.wake.threshold | float64) $res) }}
{{- $e = append $e (printf "autoscaling.triggers.wake.threshold is %v: %s: use at least %v." $t.wake.threshold $resWhy $res) }}
{{- end }}
{{- range $name := list "requestsWaiting" "wake" }}
{{- $act := (index $t $name).activationThreshold | float64 }}
{{- if and $keda (gt $act 0.0) (lt $act $res) }}
{{- $e = append $e (printf "autoscaling.triggers.%s.activationThreshold is %v, finer than the 3 decimals KEDA hands metric values to the HPA with (below %v is 0 there): use 0 to activate on any value, or at least %v." $name (index $t $name).activationThreshold $res $res) }}
{{- end }}
{{- end }}
{{- $share := $a.spotShare | float64 }}
{{- if and $v.pools.onDemand.enabled $v.pools.spot.enabled (or (le $share 0.0) (ge $share 1.0)) }}
{{- $e = append $e (printf "autoscaling.spotShare is %v but both pools run: use a fraction strictly between 0 and 1 (0.7 = 70 %% spot), or disable a pool." $a.spotShare) }}
{{- end }}
{{- range $name, $trig := pick $t "kvCacheUsage" "requestsWaiting" }}
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
{{- $matchers := dict "autoscaling.scopeMatchers" $a.scopeMatchers "autoscaling.poolMatchers.onDemand" $a.poolMatchers.onDemand "autoscaling.poolMatchers.spot" $a.poolMatchers.spot }}
{{- range $key, $m := $matchers }}
{{- if and $m (not (regexMatch (include "vllm-inference.matcherListPattern" $) $m)) }}
{{- $e = append $e (printf "%s %q is not a PromQL matcher list: write label=\"value\" pairs separated by commas, the first an equality (e.g. namespace=\"inference\",app_kubernetes_io_instance=\"llm\")." $key $m) }}
{{- end }}
{{- end }}
{{- if and (eq $a.matchBy "podName") (not $keda) (eq $v.hpa.metricSource "External") }}
{{- $e = append $e "autoscaling.matchBy is podName but autoscaling.mode is hpa with hpa.metricSource External: the HPA's external metric selectors match labels exactly and cannot carry pod-name patterns. Use autoscaling.mode: keda, or hpa.metricSource: Pods (per-pod metrics need no pool labels)." }}
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
{{- else if and (eq ($r.min | int) 0) (not $t.wake.enabled) }}
{{- /* At zero no vLLM pod exists, so no vllm: series: only the release-wide queue of a warm on-demand pool can wake it */}}
{{- $warm := and (ne $pool "onDemand") $v.pools.onDemand.enabled (ge ($v.pools.onDemand.minReplicas | int) 1) $t.requestsWaiting.enabled (not $t.requestsWaiting.query) }}
{{- if not $warm }}
{{- $e = append $e (printf "pools.%s.minReplicas is 0 but every trigger of the pool reads vllm: series, which exist only while a vLLM pod runs: at zero nothing can wake it and requests fail until someone scales it by hand. Enable autoscaling.triggers.wake (a query on your gateway's request metric, e.g. haproxy_backend_http_requests_total, with activationThreshold), or set pools.%s.minReplicas: 1." $pool $pool) }}
{{- end }}
{{- end }}
{{- end }}
{{- $w := $t.wake }}
{{- if and $keda $w.enabled }}
{{- if not $w.query }}
{{- $e = append $e "autoscaling.triggers.wake.enabled is true but autoscaling.triggers.wake.query is empty: name the gateway or ingress metric that exists while the pool is at zero (docs/chart.md has ingress-nginx, Envoy and HAProxy examples)." }}
{{- else if contains "vllm:" $w.query }}
{{- $e = append $e (printf "autoscaling.triggers.wake.query %q reads a vllm: series, which does not exist while the pool is at zero, so it could never wake it: query the gateway's or ingress' metric instead." $w.query) }}
{{- end }}
{{- end }}
{{- /* Failover: with both pools, an explicit on-demand maximum must leave room for the headroom */}}
{{- if and $v.pools.onDemand.enabled $v.pools.spot.enabled (not (kindIs "invalid" $v.pools.onDemand.maxReplicas)) (gt ($a.onDemandHeadroom | float64) 0.0) }}
{{- $spotMax := (include "vllm-inference.poolReplicaRange" (dict "root" $ "pool" "spot") | fromJson).max | int }}
{{- $share := max 1 (sub ($a.maxReplicas | int) (mulf ($a.maxReplicas | int) ($a.spotShare | float64) | ceil | int)) }}
{{- $need := add $share (include "vllm-inference.onDemandHeadroom" (dict "root" $ "spotMax" $spotMax) | int) }}
{{- if lt ($v.pools.onDemand.maxReplicas | int) $need }}
{{- $e = append $e (printf "pools.onDemand.maxReplicas is %d but autoscaling.onDemandHeadroom %v asks the on-demand pool to take its share (%d) plus %v x the spot pool's maximum (%d) when spot capacity goes: it needs %d. Raise pools.onDemand.maxReplicas to %d, leave it null (derived), or lower autoscaling.onDemandHeadroom (0 keeps on-demand at its share)." ($v.pools.onDemand.maxReplicas | int) $a.onDemandHeadroom $share $a.onDemandHeadroom $spotMax $need $need) }}
{{- end }}
{{- end }}
{{- $auth := $v.keda.authentication }}
{{- if and $keda $auth.enabled }}
{{- if and (has $auth.mode (list "bearer" "basic" "tls")) (not $auth.secretName) }}
{{- $e = append $e (printf "keda.authentication.mode is %s but keda.authentication.secretName is empty: name the Secret holding the credentials." $auth.mode) }}
{{- else if and (eq $auth.mode "podIdentity") (eq $auth.podIdentity.provider "aws") (not $auth.podIdentity.awsRegion) }}
{{- $e = append $e "keda.authentication.podIdentity.provider is aws but keda.authentication.podIdentity.awsRegion is empty: Amazon Managed Prometheus signs each query (SigV4) for the workspace's region." }}
{{- else if and (eq $auth.mode "boundServiceAccountToken") (not $auth.boundServiceAccountToken.serviceAccountName) }}
{{- $e = append $e "keda.authentication.mode is boundServiceAccountToken but keda.authentication.boundServiceAccountToken.serviceAccountName is empty: name the ServiceAccount whose token KEDA sends." }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson $e }}
{{- end }}

{{/*
KEDA turns each threshold and metric value into a quantity with 3 decimals (pkg/scalers/scaler.go,
quantityFromFloat64: "%.3f"); the chart's HPA writes milli-units. The smallest threshold either can hold
(the schema's minimum too; src/vllm_plan/thresholds.py KEDA_RESOLUTION, held equal by a test).
*/}}
{{- define "vllm-inference.kedaResolution" -}}
0.001
{{- end }}
