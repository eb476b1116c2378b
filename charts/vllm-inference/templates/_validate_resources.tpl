{{/* Pod resources: a GPU per tensor-parallel rank, and a memory-backed /dev/shm below the memory limit. */}}
{{- define "vllm-inference.validate.resources" -}}
{{- $v := .Values }}
{{- $e := list }}
{{- $tp := $v.vllm.tensorParallelSize | int }}
{{- $gpus := include "vllm-inference.gpuCount" . | int }}
{{- $sizes := (.Files.Get "files/sizing.yaml" | fromYaml).runtimeOverheadBytes | keys | sortAlpha }}
{{- if not (has (toString $tp) $sizes) }}
{{- $e = append $e (printf "vllm.tensorParallelSize is %v: use one of %s (it must divide the model's attention heads and fit one node)." $v.vllm.tensorParallelSize (join ", " $sizes)) }}
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
{{- toJson $e }}
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
