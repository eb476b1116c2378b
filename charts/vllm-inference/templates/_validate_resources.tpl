{{/*
Pod resources: a GPU per rank and no idle GPUs, a memory-backed /dev/shm below the memory limit, and room in the
ephemeral-storage request and limit for the disk-backed emptyDirs.
*/}}
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
{{- /* GPUs vLLM uses: tensor parallel x pipeline parallel x data parallel (the last two from extraArgs) */}}
{{- $pp := include "vllm-inference.extraArgValue" (dict "args" $v.vllm.extraArgs "names" (list "--pipeline-parallel-size" "-pp")) | default "1" | int }}
{{- $dp := include "vllm-inference.extraArgValue" (dict "args" $v.vllm.extraArgs "names" (list "--data-parallel-size" "-dp")) | default "1" | int }}
{{- $used := mul $tp (max 1 $pp) (max 1 $dp) }}
{{- if and (gt $gpus $used) (not $v.gpu.allowUnusedGpus) }}
{{- $e = append $e (printf "gpu.count is %d but vLLM uses %d (vllm.tensorParallelSize %d x pipeline parallel %d x data parallel %d): %d GPU(s) per pod would sit idle and billed. Lower gpu.count (or leave it null), raise the parallelism, or set gpu.allowUnusedGpus: true." $gpus $used $tp (max 1 $pp) (max 1 $dp) (sub $gpus $used)) }}
{{- end }}
{{- $need := include "vllm-inference.ephemeralStorageBytes" . | float64 }}
{{- range $side := list "requests" "limits" }}
{{- $set := dig $side "ephemeral-storage" "" ($v.resources | default dict) }}
{{- if and $set (lt (include "vllm-inference.quantityBytes" $set | float64) $need) }}
{{- $e = append $e (printf "resources.%s.ephemeral-storage %v is below the %.1f GiB the pod's disk-backed emptyDirs may fill (home.sizeLimit, tmp.sizeLimit, modelCache.emptyDir.sizeLimit with an emptyDir cache, plus ephemeralStorage.containerOverhead): the kubelet would evict the pod as they fill. Raise it, lower those limits, or leave it unset (derived)." $side $set (divf $need 1073741824.0)) }}
{{- end }}
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
