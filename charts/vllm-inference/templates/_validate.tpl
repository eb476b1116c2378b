{{/*
All value checks. values.schema.json refuses wrong types, unknown keys and out-of-range numbers first; this
helper checks what a schema cannot express (relations between keys, arithmetic) and repeats the unit checks
that matter most, because `helm install --skip-schema-validation` bypasses the schema. Problems are collected
and the chart fails once, each sentence naming the keys and the fix. deployment.yaml includes it first, and a
`fail` anywhere aborts the whole render, so invalid values produce no output at all.
*/}}
{{- define "vllm-inference.validate" -}}
{{- $v := .Values }}
{{- $e := list }}

{{- /* Image */}}
{{- if and (eq (toString $v.image.tag) "latest") (not $v.image.digest) (not $v.image.allowLatestTag) }}
{{- $e = append $e "image.tag is \"latest\": rollouts and spot replacements could start different vLLM versions. Pin a release tag (default: the chart's appVersion), set image.digest, or set image.allowLatestTag: true." }}
{{- end }}
{{- if and $v.image.digest (not (regexMatch "^sha256:[a-f0-9]{64}$" $v.image.digest)) }}
{{- $e = append $e (printf "image.digest %q is not a sha256 digest (sha256: followed by 64 hex digits)." $v.image.digest) }}
{{- end }}

{{- /* Pools */}}
{{- $pools := include "vllm-inference.poolList" . | fromJsonArray }}
{{- if not $pools }}
{{- $e = append $e "pools.onDemand.enabled and pools.spot.enabled are both false: enable at least one GPU pool." }}
{{- end }}

{{- /* Capacity selection: each pool must land on its own kind of node */}}
{{- $provider := $v.capacityType.provider }}
{{- range $pool := $pools }}
{{- $p := index $v.pools $pool }}
{{- if and (eq $provider "labels") (not $p.capacityLabels) }}
{{- $e = append $e (printf "capacityType.provider is labels but pools.%s.capacityLabels is empty: name the node labels of the pool's capacity type (e.g. {node-pool: gpu-%s})." $pool (kebabcase $pool)) }}
{{- else if and (eq $provider "none") (gt (len $pools) 1) (not (or $p.capacityLabels $p.nodeSelector $p.affinity)) }}
{{- $e = append $e (printf "capacityType.provider is none and both pools run, but pools.%s sets no capacityLabels, nodeSelector or affinity: spot and on-demand pods would share nodes. Pick a provider (gke, eks, karpenter, aks) or label each pool." $pool) }}
{{- end }}
{{- end }}

{{- /* Tensor parallelism and GPUs */}}
{{- $tp := $v.vllm.tensorParallelSize | int }}
{{- $gpus := include "vllm-inference.gpuCount" . | int }}
{{- if not (has $tp (list 1 2 4 8)) }}
{{- $e = append $e (printf "vllm.tensorParallelSize is %v: use 1, 2, 4 or 8 (it must divide the model's attention heads and fit one node)." $v.vllm.tensorParallelSize) }}
{{- end }}
{{- if lt $gpus $tp }}
{{- $e = append $e (printf "gpu.count is %d but vllm.tensorParallelSize is %d: vLLM needs at least one GPU per tensor-parallel rank. Set gpu.count >= %d or leave it null." $gpus $tp $tp) }}
{{- end }}

{{- /* /dev/shm is a memory-backed emptyDir: what it holds counts against the container's memory limit */}}
{{- $memLimit := dig "limits" "memory" "" ($v.resources | default dict) }}
{{- if and $v.shm.sizeLimit $memLimit }}
{{- $shmBytes := include "vllm-inference.quantityBytes" $v.shm.sizeLimit | float64 }}
{{- $memBytes := include "vllm-inference.quantityBytes" $memLimit | float64 }}
{{- if and (gt $memBytes 0.0) (ge $shmBytes $memBytes) }}
{{- $e = append $e (printf "shm.sizeLimit %v is not below resources.limits.memory %v: the memory-backed /dev/shm counts against the container's memory limit, so a full /dev/shm gets vLLM OOM-killed. Raise resources.limits.memory or lower shm.sizeLimit." $v.shm.sizeLimit $memLimit) }}
{{- end }}
{{- end }}

{{- /* Known model on a known GPU: does it fit? */}}
{{- $sizing := .Files.Get "files/sizing.yaml" | fromYaml }}
{{- $model := get $sizing.models $v.model.name }}
{{- $gpu := get $sizing.gpus $v.gpu.type }}
{{- $quant := default (get ($model | default dict) "quantization" | default "") $v.model.quantization }}
{{- $q := get $sizing.quantizations $quant }}
{{- if and $model $gpu (ge $gpus $tp) (or (not $quant) $q) }}
{{- $dtype := $v.model.dtype }}
{{- if eq $dtype "auto" }}{{ $dtype = $model.dtype }}{{ if and (eq $dtype "bfloat16") (not $gpu.bf16) }}{{ $dtype = "float16" }}{{ end }}{{ end }}
{{- $act := ternary 4 2 (has $dtype (list "float" "float32")) }}
{{- if and (has $dtype (list "bfloat16")) (not $gpu.bf16) }}
{{- $e = append $e (printf "model.dtype is bfloat16 but gpu.type %s has no bfloat16 support (compute capability %.1f): use model.dtype: half." $v.gpu.type (divf $gpu.capability 10)) }}
{{- end }}
{{- if and $q (lt ($gpu.capability | int) ($q.minCapability | int)) }}
{{- $e = append $e (printf "model.quantization %s needs compute capability %.1f but gpu.type %s has %.1f: pick another quantization or GPU." $quant (divf $q.minCapability 10) $v.gpu.type (divf $gpu.capability 10)) }}
{{- end }}
{{- if mod ($model.attentionHeads | int) $tp }}
{{- $e = append $e (printf "vllm.tensorParallelSize %d does not divide the %d attention heads of %s." $tp ($model.attentionHeads | int) $v.model.name) }}
{{- end }}
{{- $maxLen := $model.maxLen | int }}
{{- if not (kindIs "invalid" $v.model.maxModelLen) }}
{{- if gt ($v.model.maxModelLen | int) $maxLen }}
{{- $e = append $e (printf "model.maxModelLen %d exceeds the %d tokens %s was trained for (max_position_embeddings)." ($v.model.maxModelLen | int) $maxLen $v.model.name) }}
{{- end }}
{{- $maxLen = $v.model.maxModelLen | int }}
{{- end }}
{{- $embed := $model.embeddingParams | float64 }}
{{- $body := subf ($model.params | float64) $embed }}
{{- $bodyBytes := mulf $body $act }}
{{- if $q }}{{ $bodyBytes = mulf $body $q.bytesPerParam (addf 1 $q.overhead) }}{{ end }}
{{- $gib := 1073741824.0 }}
{{- $weights := divf (addf $bodyBytes (mulf $embed $act)) $tp }}
{{- $util := 0.92 }}
{{- if not (kindIs "invalid" $v.vllm.gpuMemoryUtilization) }}{{ $util = $v.vllm.gpuMemoryUtilization | float64 }}{{ end }}
{{- $budget := mulf $gpu.memoryMiB 1048576 $util }}
{{- $overhead := mulf 0.35 $gib }}
{{- if gt $tp 1 }}{{ $overhead = addf $overhead (mulf 0.3 $gib) }}{{ end }}
{{- $kvHeads := max 1 (div ($model.kvHeads | int) $tp) }}
{{- $kvBytes := 2 }}
{{- range $v.vllm.extraArgs }}{{ if regexMatch "^--kv-cache-dtype[= ]?fp8" (toString .) }}{{ $kvBytes = 1 }}{{ end }}{{ end }}
{{- $kvPerToken := mul 2 ($model.layers | int) $kvHeads ($model.headDim | int) $kvBytes }}
{{- if $model.noKvCache }}{{ $kvPerToken = 0 }}{{ end }}
{{- $kv := mulf $kvPerToken $maxLen }}
{{- $free := subf (subf $budget $weights) $overhead }}
{{- if lt $free $kv }}
{{- $e = append $e (printf "model.name %s (%s%s, tensor parallel %d) does not fit gpu.type %s: %.0f MiB x gpu-memory-utilization %.2f = %.1f GiB, minus %.1f GiB of weights per GPU and %.2f GiB runtime overhead, leaves %.1f GiB, less than the %.2f GiB KV cache of one %d-token sequence (model.maxModelLen). Use a quantized checkpoint (AWQ/GPTQ, model.dtype: half on T4), a shorter model.maxModelLen, more tensor parallelism or a larger GPU." $v.model.name $dtype (ternary (printf ", %s" $quant) "" (ne $quant "")) $tp $v.gpu.type ($gpu.memoryMiB | float64) $util (divf $budget $gib) (divf $weights $gib) (divf $overhead $gib) (divf $free $gib) (divf $kv $gib) $maxLen) }}
{{- end }}
{{- end }}

{{- /* vLLM flags */}}
{{- if and $v.vllm.lora.adapters (not $v.vllm.lora.enabled) }}
{{- $e = append $e "vllm.lora.adapters is set but vllm.lora.enabled is false: enable LoRA or remove the adapters." }}
{{- end }}
{{- if and $v.vllm.lora.runtimeUpdates (not $v.vllm.lora.enabled) }}
{{- $e = append $e "vllm.lora.runtimeUpdates is true but vllm.lora.enabled is false." }}
{{- end }}
{{- range $flag := list "--model" "--port" "--tensor-parallel-size" "--shutdown-timeout" "--api-key" "--enable-prefix-caching" "--no-enable-prefix-caching" "--max-model-len" "--served-model-name" }}
{{- range $arg := $v.vllm.extraArgs }}
{{- if or (eq (toString $arg) $flag) (hasPrefix (printf "%s=" $flag) (toString $arg)) }}
{{- $e = append $e (printf "vllm.extraArgs contains %s, which the chart renders from its own value (see values.yaml; the API key comes from auth.*): set that value instead." $flag) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and $v.auth.enabled (not $v.auth.existingSecret) (not $v.auth.apiKey) }}
{{- $e = append $e "auth.enabled is true but neither auth.existingSecret nor auth.apiKey is set." }}
{{- end }}

{{- /* Model cache */}}
{{- $multi := false }}
{{- range $pool := $pools }}
{{- $p := index $v.pools $pool }}
{{- if or (gt ($p.replicas | int) 1) (and $v.autoscaling.enabled (gt ((include "vllm-inference.poolReplicaRange" (dict "root" $ "pool" $pool) | fromJson).max | int) 1)) }}{{ $multi = true }}{{ end }}
{{- end }}
{{- if gt (len $pools) 1 }}{{ $multi = true }}{{ end }}
{{- if and (eq $v.modelCache.mode "pvc") (eq $v.modelCache.pvc.accessMode "ReadWriteOnce") $multi }}
{{- $e = append $e "modelCache.pvc.accessMode is ReadWriteOnce but more than one pod can run (several pools, replicas or maxReplicas > 1): pods on other nodes cannot mount it and rolling updates stall. Use ReadWriteMany, modelCache.mode: emptyDir, or a single replica." }}
{{- end }}
{{- if and (eq $v.modelCache.mode "existingClaim") (eq $v.modelCache.existingClaim.accessMode "ReadWriteOnce") $multi }}
{{- $e = append $e "modelCache.existingClaim.accessMode is ReadWriteOnce but more than one pod can run (several pools, replicas or maxReplicas > 1): use a ReadWriteMany or ReadOnlyMany claim, or modelCache.mode: emptyDir." }}
{{- end }}
{{- if and (eq $v.modelCache.mode "existingClaim") (not $v.modelCache.existingClaim.name) }}
{{- $e = append $e "modelCache.mode is existingClaim but modelCache.existingClaim.name is empty." }}
{{- end }}
{{- if and (eq $v.modelCache.mode "existingClaim") (eq $v.modelCache.existingClaim.accessMode "ReadOnlyMany") (not $v.modelCache.existingClaim.readOnly) }}
{{- $e = append $e "modelCache.existingClaim.accessMode is ReadOnlyMany: set modelCache.existingClaim.readOnly: true (and HF_HUB_OFFLINE=1 in vllm.env)." }}
{{- end }}

{{- /* Drain timing, per pool */}}
{{- $notice := include "vllm-inference.spotNotice" . | int }}
{{- range $pool := $pools }}
{{- $d := include "vllm-inference.drain" (dict "root" $ "pool" $pool) | fromJson }}
{{- $need := add $d.preStop $d.shutdown }}
{{- if and $d.graceExplicit (lt ($d.grace | int) ($need | int)) }}
{{- $e = append $e (printf "pools.%s.terminationGracePeriodSeconds is %d but the preStop sleep (%ds) plus vLLM's shutdown timeout (%ds) need %ds: pods would be killed mid-drain. Raise it or lower drain.preStopSleepSeconds / drain.shutdownTimeoutSeconds (or their pools.%s.drain overrides)." $pool ($d.grace | int) ($d.preStop | int) ($d.shutdown | int) ($need | int) $pool) }}
{{- end }}
{{- if and (eq $pool "spot") (gt ($d.grace | int) $notice) }}
{{- $e = append $e (printf "pools.spot drain takes %ds (pools.spot.terminationGracePeriodSeconds, or pools.spot.drain.preStopSleepSeconds + shutdownTimeoutSeconds + marginSeconds) but the %s spot reclaim notice is %ds (capacityType.spotNoticeSeconds): in-flight requests would be cut. Shorten the spot pool's drain to fit the notice." ($d.grace | int) $v.capacityType.provider $notice) }}
{{- end }}
{{- end }}

{{- /* PDBs */}}
{{- range $pool := $pools }}
{{- $p := index $v.pools $pool }}
{{- if and $p.pdb.enabled (not $p.pdb.allowBlockingBudget) }}
{{- $floor := $p.replicas | int }}
{{- if $v.autoscaling.enabled }}{{ $floor = $p.minReplicas | int }}{{ end }}
{{- $blocking := false }}
{{- if and (not (kindIs "invalid" $p.pdb.minAvailable)) (not (kindIs "invalid" $p.pdb.maxUnavailable)) }}
{{- $e = append $e (printf "pools.%s.pdb sets both minAvailable and maxUnavailable: set one (the other null)." $pool) }}
{{- else if not (kindIs "invalid" $p.pdb.maxUnavailable) }}
{{- if has (toString $p.pdb.maxUnavailable) (list "0" "0%") }}{{ $blocking = true }}{{ end }}
{{- else if not (kindIs "invalid" $p.pdb.minAvailable) }}
{{- $min := toString $p.pdb.minAvailable }}
{{- if hasSuffix "%" $min }}
{{- if eq $min "100%" }}{{ $blocking = true }}{{ end }}
{{- else if ge ($min | int) $floor }}{{ $blocking = true }}{{ end }}
{{- else }}
{{- $e = append $e (printf "pools.%s.pdb is enabled but neither minAvailable nor maxUnavailable is set." $pool) }}
{{- end }}
{{- if $blocking }}
{{- $e = append $e (printf "pools.%s.pdb (minAvailable %v, maxUnavailable %v) blocks every voluntary eviction with %d replica(s): node drains and upgrades would hang. Use maxUnavailable: 1, or set pools.%s.pdb.allowBlockingBudget: true." $pool (toJson $p.pdb.minAvailable) (toJson $p.pdb.maxUnavailable) $floor $pool) }}
{{- end }}
{{- end }}
{{- end }}

{{- /* Autoscaling */}}
{{- if $v.autoscaling.enabled }}
{{- $t := $v.autoscaling.triggers }}
{{- if not (or $t.kvCacheUsage.enabled $t.requestsWaiting.enabled) }}
{{- $e = append $e "autoscaling.enabled is true but autoscaling.triggers.kvCacheUsage.enabled and autoscaling.triggers.requestsWaiting.enabled are both false: enable at least one vLLM metric (the chart never scales on CPU)." }}
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
{{- $share := $v.autoscaling.spotShare | float64 }}
{{- if and $v.pools.onDemand.enabled $v.pools.spot.enabled (or (le $share 0.0) (ge $share 1.0)) }}
{{- $e = append $e (printf "autoscaling.spotShare is %v but both pools run: use a fraction strictly between 0 and 1 (0.7 = 70 %% spot), or disable a pool." $v.autoscaling.spotShare) }}
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
{{- end }}
{{- end }}
{{- if not $v.keda.enabled }}
{{- range $name, $trig := $t }}
{{- if $trig.query }}
{{- $e = append $e (printf "autoscaling.triggers.%s.query is set but keda.enabled is false: the HPA reads the adapter metric hpa.metricNames.%s, so the query would be silently ignored. Put it in your prometheus-adapter rule (docs/chart.md) or use KEDA." $name $name) }}
{{- end }}
{{- end }}
{{- end }}
{{- with $v.autoscaling.scopeMatchers }}
{{- if not (regexMatch "^\\s*[a-zA-Z_][a-zA-Z0-9_]*\\s*(=|=~)\\s*\"[^\"]+\"(\\s*,\\s*[a-zA-Z_][a-zA-Z0-9_]*\\s*(=|=~|!=|!~)\\s*\"[^\"]*\")*\\s*$" .) }}
{{- $e = append $e (printf "autoscaling.scopeMatchers %q is not a PromQL matcher list: write label=\"value\" pairs separated by commas, the first an equality (e.g. namespace=\"inference\",app_kubernetes_io_instance=\"llm\")." .) }}
{{- end }}
{{- end }}
{{- range $pool := $pools }}
{{- $r := include "vllm-inference.poolReplicaRange" (dict "root" $ "pool" $pool) | fromJson }}
{{- if gt ($r.min | int) ($r.max | int) }}
{{- $e = append $e (printf "pools.%s.minReplicas (%d) is greater than its maxReplicas (%d, pools.%s.maxReplicas or derived from autoscaling.maxReplicas x spotShare)." $pool ($r.min | int) ($r.max | int) $pool) }}
{{- end }}
{{- if lt ($r.max | int) 1 }}
{{- $e = append $e (printf "pools.%s.maxReplicas is %d: a scaled pool needs at least 1 (raise autoscaling.maxReplicas or set pools.%s.maxReplicas)." $pool ($r.max | int) $pool) }}
{{- end }}
{{- if and (eq ($r.min | int) 0) (not $v.keda.enabled) }}
{{- $e = append $e (printf "pools.%s.minReplicas is 0 but keda.enabled is false: an HPA cannot scale to zero (HPAScaleToZero is alpha). Use KEDA or minReplicas >= 1." $pool) }}
{{- end }}
{{- end }}
{{- if and $v.keda.enabled $v.keda.authentication.enabled (not $v.keda.authentication.secretName) }}
{{- $e = append $e "keda.authentication.enabled is true but keda.authentication.secretName is empty." }}
{{- end }}
{{- end }}

{{- /* Routing and policy */}}
{{- if and $v.ingress.enabled (not $v.ingress.hosts) }}
{{- $e = append $e "ingress.enabled is true but ingress.hosts is empty." }}
{{- end }}
{{- if and $v.httpRoute.enabled (not $v.httpRoute.parentRefs) }}
{{- $e = append $e "httpRoute.enabled is true but httpRoute.parentRefs is empty: name the Gateway the route attaches to." }}
{{- end }}
{{- if and $v.monitoring.prometheusRule.enabled (or (gt ($v.monitoring.prometheusRule.kvCacheHighThreshold | float64) 1.0) (le ($v.monitoring.prometheusRule.kvCacheHighThreshold | float64) 0.0)) }}
{{- $e = append $e (printf "monitoring.prometheusRule.kvCacheHighThreshold is %v but vllm:kv_cache_usage_perc is a fraction from 0 to 1: use 0.9 for 90 %%." $v.monitoring.prometheusRule.kvCacheHighThreshold) }}
{{- end }}

{{- if $e }}
{{- fail (printf "\n\nvllm-inference: %d problem(s) in the values:\n  - %s\n" (len $e) (join "\n  - " $e)) }}
{{- end }}
{{- end }}

{{/*
A Kubernetes quantity (e.g. 8Gi, 512Mi, 2G, 1073741824) in bytes; 0 for a unit it does not know.
*/}}
{{- define "vllm-inference.quantityBytes" -}}
{{- $q := toString . }}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $q }}
{{- $unit := trimPrefix $number $q }}
{{- $multipliers := dict "" 1.0 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "k" 1000.0 "M" 1000000.0 "G" 1000000000.0 "T" 1000000000000.0 }}
{{- if hasKey $multipliers $unit }}{{ mulf ($number | float64) (get $multipliers $unit) }}{{ else }}0{{ end }}
{{- end }}
