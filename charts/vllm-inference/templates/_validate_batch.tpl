{{/*
Batch mode: a release that serves nothing (its pods would be the Service's endpoints without listening), a
data volume for the input and outputs, paths inside it, shards that all get to run, a placement on the
batch pool's own kind of node, and exit codes that are configuration errors, not kills.
*/}}
{{- define "vllm-inference.validate.batch" -}}
{{- $v := .Values }}
{{- $b := $v.batch }}
{{- $e := list }}
{{- if $b.enabled }}
{{- range $pool := include "vllm-inference.poolList" . | fromJsonArray }}
{{- $e = append $e (printf "batch.enabled is true but pools.%s.enabled is true: a batch release runs no server (its Job's pods would join the Service without listening). Set pools.%s.enabled to false (the batch pods still take pools.%s's placement) and serve from another release." $pool $pool $b.pool) }}
{{- end }}
{{- $serving := list }}
{{- if ne $v.autoscaling.mode "none" }}{{ $serving = append $serving (printf "autoscaling.mode %s" $v.autoscaling.mode) }}{{ end }}
{{- if $v.ingress.enabled }}{{ $serving = append $serving "ingress.enabled" }}{{ end }}
{{- if $v.httpRoute.enabled }}{{ $serving = append $serving "httpRoute.enabled" }}{{ end }}
{{- if ne $v.monitoring.monitor.kind "none" }}{{ $serving = append $serving (printf "monitoring.monitor.kind %s" $v.monitoring.monitor.kind) }}{{ end }}
{{- if $v.monitoring.prometheusRule.enabled }}{{ $serving = append $serving "monitoring.prometheusRule.enabled" }}{{ end }}
{{- if $serving }}
{{- $e = append $e (printf "batch.enabled is true but %s: a batch release has no server to scale, route to or scrape. Turn them off (autoscaling.mode none, monitoring.monitor.kind none) for the batch release." (join ", " $serving)) }}
{{- end }}
{{- if not (has $b.pool (list "spot" "onDemand")) }}
{{- $e = append $e (printf "batch.pool is %v: use spot or onDemand." $b.pool) }}
{{- else }}
{{- $p := index $v.pools $b.pool }}
{{- $own := or $p.capacityLabels $p.nodeSelector $p.affinity }}
{{- if and (eq $v.capacityType.provider "labels") (not $p.capacityLabels) }}
{{- $e = append $e (printf "batch.pool is %s and capacityType.provider is labels, but pools.%s.capacityLabels is empty: name the node labels of that pool's nodes." $b.pool $b.pool) }}
{{- else if and (eq $v.capacityType.provider "none") (eq $b.pool "spot") (not $own) }}
{{- $e = append $e "batch.pool is spot but capacityType.provider is none and pools.spot sets no capacityLabels, nodeSelector or affinity: nothing keeps the batch pods on spot nodes. Set capacityType.provider (gke, eks, karpenter, aks or labels)." }}
{{- end }}
{{- end }}
{{- if and $b.data.existingClaim $b.data.volume }}
{{- $e = append $e "batch.data sets both existingClaim and volume: the data is on one of them; keep one." }}
{{- else if not (or $b.data.existingClaim $b.data.volume) }}
{{- $e = append $e "batch.enabled is true but batch.data has neither existingClaim nor volume: the input and outputs need a volume that outlives the pods (a PersistentVolumeClaim, NFS, a CSI volume)." }}
{{- end }}
{{- range $key, $path := dict "batch.input.path" $b.input.path "batch.output.dir" $b.output.dir }}
{{- if or (not $path) (hasPrefix "/" (toString $path)) (has ".." (splitList "/" (toString $path))) }}
{{- $e = append $e (printf "%s is %q: give a path relative to batch.data.mountPath, without `..`." $key (toString $path)) }}
{{- end }}
{{- end }}
{{- if lt ($b.shards | int) 1 }}
{{- $e = append $e (printf "batch.shards is %v: run at least 1 shard." $b.shards) }}
{{- else if and (not (kindIs "invalid" $b.parallelism)) (or (lt ($b.parallelism | int) 1) (gt ($b.parallelism | int) ($b.shards | int))) }}
{{- $e = append $e (printf "batch.parallelism is %v but batch.shards is %v: run between 1 and batch.shards shards at once (null: all)." $b.parallelism $b.shards) }}
{{- end }}
{{- range $code := $b.failJobExitCodes }}
{{- if or (lt ($code | int) 1) (gt ($code | int) 127) }}
{{- $e = append $e (printf "batch.failJobExitCodes has %v: list exit codes from 1 to 127 (128 and above are signals: a killed shard is retried, not a configuration error)." $code) }}
{{- end }}
{{- end }}
{{- if and $b.schedule (eq (toString $b.concurrencyPolicy) "Allow") }}
{{- $e = append $e "batch.concurrencyPolicy is Allow: two scheduled runs would hold the GPUs at once. Use Forbid or Replace." }}
{{- end }}
{{- if and $v.vllm.lora.enabled $v.vllm.lora.adapters }}
{{- $e = append $e "batch.enabled is true and vllm.lora.adapters is set: vllm run-batch has no --lora-modules (it loads no adapters at start). Remove vllm.lora.adapters for the batch release." }}
{{- end }}
{{- end }}
{{- toJson $e }}
{{- end }}
