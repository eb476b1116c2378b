{{/*
Pools: at least one, each on its own kind of node (a provider is never assumed), on nodes with its GPU type,
with a replica count only where no autoscaler owns it, and a budget that lets a node drain: voluntary drains
always, and spot reclaims where they go through the Eviction API (capacityType.spotDrainHonoursPdb).
*/}}
{{- define "vllm-inference.validate.pools" -}}
{{- $v := .Values }}
{{- $e := list }}
{{- $pools := include "vllm-inference.poolList" . | fromJsonArray }}
{{- if and (not $pools) (not $v.batch.enabled) }}
{{- $e = append $e "pools.onDemand.enabled and pools.spot.enabled are both false: enable at least one GPU pool (or batch.enabled for a batch release)." }}
{{- end }}
{{- $provider := $v.capacityType.provider }}
{{- $providers := "gke, eks, karpenter, aks or labels (with each pool's capacityLabels)" }}
{{- range $pool := $pools }}
{{- $p := index $v.pools $pool }}
{{- $own := or $p.capacityLabels $p.nodeSelector $p.affinity }}
{{- if and (eq $provider "labels") (not $p.capacityLabels) }}
{{- $e = append $e (printf "capacityType.provider is labels but pools.%s.capacityLabels is empty: name the node labels of the pool's capacity type (e.g. {node-pool: gpu-%s})." $pool (kebabcase $pool)) }}
{{- else if and (eq $provider "none") (eq $pool "spot") (not $own) }}
{{- $e = append $e (printf "pools.spot.enabled is true but capacityType.provider is none, so nothing keeps the spot pool on spot nodes (the chart assumes no cloud). Set capacityType.provider to %s." $providers) }}
{{- else if and (eq $provider "none") (gt (len $pools) 1) (not $own) (or $v.pools.spot.capacityLabels $v.pools.spot.nodeSelector $v.pools.spot.affinity) }}
{{- $e = append $e (printf "capacityType.provider is none and both pools run, but pools.%s sets no capacityLabels, nodeSelector or affinity: spot and on-demand pods would share nodes. Set capacityType.provider to %s." $pool $providers) }}
{{- end }}
{{- if and (ne $v.autoscaling.mode "none") (not (kindIs "invalid" $p.replicas)) }}
{{- $e = append $e (printf "pools.%s.replicas is %v but autoscaling.mode is %s: the autoscaler owns the replica count (it would reset it on every sync). Remove pools.%s.replicas and set pools.%s.minReplicas / maxReplicas." $pool $p.replicas $v.autoscaling.mode $pool $pool) }}
{{- end }}
{{- end }}
{{- with include "vllm-inference.gpuNodeLabel" . }}
{{- $g := fromJson . }}
{{- if not $g.values }}
{{- $e = append $e (printf "gpu.type is %s but the catalogue knows no %s node with it (no value of the %s label; src/vllm_model/catalog/gpus.yaml node_labels): pods would never schedule. Pick a GPU that %s offers, or set gpu.nodeLabel to gfd (GPU feature discovery) or none." $v.gpu.type $g.source $g.key $g.source) }}
{{- end }}
{{- end }}
{{- $honours := eq (include "vllm-inference.spotDrainHonoursPdb" .) "true" }}
{{- range $pool := $pools }}
{{- $p := index $v.pools $pool }}
{{- $ctx := dict "root" $ "pool" $pool }}
{{- if and $p.pdb.enabled (not $p.pdb.allowBlockingBudget) }}
{{- $b := include "vllm-inference.pdbBudget" $ctx | fromJson }}
{{- if and (not (kindIs "invalid" $b.minAvailable)) (not (kindIs "invalid" $b.maxUnavailable)) }}
{{- $e = append $e (printf "pools.%s.pdb sets both minAvailable and maxUnavailable: set one (the other null)." $pool) }}
{{- else if and (kindIs "invalid" $b.minAvailable) (kindIs "invalid" $b.maxUnavailable) }}
{{- $e = append $e (printf "pools.%s.pdb is enabled but neither minAvailable nor maxUnavailable is set." $pool) }}
{{- else }}
{{- /* a pool at zero has nothing to evict: judge the budget at its first pod */}}
{{- $floor := max 1 (include "vllm-inference.poolFloor" $ctx | int) }}
{{- $ceiling := include "vllm-inference.poolCeiling" $ctx | int }}
{{- $budget := printf "minAvailable %s, maxUnavailable %s" (toJson $b.minAvailable) (toJson $b.maxUnavailable) }}
{{- if lt (include "vllm-inference.pdbEvictions" (dict "budget" $b "pods" $floor) | int) 1 }}
{{- $e = append $e (printf "pools.%s.pdb (%s) blocks every voluntary eviction with %d replica(s): node drains and upgrades would hang. Use maxUnavailable: 1, or set pools.%s.pdb.allowBlockingBudget: true." $pool $budget $floor $pool) }}
{{- else if and (eq $pool "spot") $honours (lt (include "vllm-inference.pdbEvictions" (dict "budget" $b "pods" $ceiling) | int) $ceiling) }}
{{- $e = append $e (printf "pools.spot.pdb (%s) lets fewer than all %d spot pods be evicted at once, but %s spot reclaims drain through the Eviction API (capacityType.spotDrainHonoursPdb): when several spot nodes are reclaimed together the budget holds the next eviction past the notice and the instance dies without SIGTERM. Leave pools.spot.pdb.maxUnavailable null (100%%), or set pools.spot.pdb.allowBlockingBudget: true." $budget $ceiling $provider) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson $e }}
{{- end }}

{{/*
Evictions a PDB budget allows with .pods healthy pods (percentages round up, as the disruption controller
does). Call with (dict "budget" {minAvailable, maxUnavailable} "pods" N).
*/}}
{{- define "vllm-inference.pdbEvictions" -}}
{{- $n := .pods | int }}
{{- $value := ternary .budget.minAvailable .budget.maxUnavailable (kindIs "invalid" .budget.maxUnavailable) }}
{{- $text := toString $value }}
{{- $count := $text | int }}
{{- if hasSuffix "%" $text }}{{ $count = div (add (mul $n (trimSuffix "%" $text | int)) 99) 100 }}{{ end }}
{{- if kindIs "invalid" .budget.maxUnavailable }}{{ max 0 (sub $n $count) }}{{ else }}{{ $count }}{{ end }}
{{- end }}
