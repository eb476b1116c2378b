{{/* Pools: at least one, each on its own kind of node, each with a budget that lets a node drain. */}}
{{- define "vllm-inference.validate.pools" -}}
{{- $v := .Values }}
{{- $e := list }}
{{- $pools := include "vllm-inference.poolList" . | fromJsonArray }}
{{- if not $pools }}
{{- $e = append $e "pools.onDemand.enabled and pools.spot.enabled are both false: enable at least one GPU pool." }}
{{- end }}
{{- $provider := $v.capacityType.provider }}
{{- range $pool := $pools }}
{{- $p := index $v.pools $pool }}
{{- if and (eq $provider "labels") (not $p.capacityLabels) }}
{{- $e = append $e (printf "capacityType.provider is labels but pools.%s.capacityLabels is empty: name the node labels of the pool's capacity type (e.g. {node-pool: gpu-%s})." $pool (kebabcase $pool)) }}
{{- else if and (eq $provider "none") (gt (len $pools) 1) (not (or $p.capacityLabels $p.nodeSelector $p.affinity)) }}
{{- $e = append $e (printf "capacityType.provider is none and both pools run, but pools.%s sets no capacityLabels, nodeSelector or affinity: spot and on-demand pods would share nodes. Pick a provider (gke, eks, karpenter, aks) or label each pool." $pool) }}
{{- end }}
{{- end }}
{{- range $pool := $pools }}
{{- $p := index $v.pools $pool }}
{{- if and $p.pdb.enabled (not $p.pdb.allowBlockingBudget) }}
{{- $floor := $p.replicas | int }}
{{- if ne $v.autoscaling.mode "none" }}{{ $floor = $p.minReplicas | int }}{{ end }}
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
{{- toJson $e }}
{{- end }}
