{{/*
Does a catalogue model fit the declared GPU? Every figure comes from files/sizing.yaml, which `make generate`
writes from the memory model (src/vllm_model/memory.py): this helper only looks figures up and compares
   GPU memory x gpu-memory-utilization - weights / TP - runtime overhead   against
   KV-cache elements per token (at this TP) x KV element bytes x max-model-len,
the KV cache of one max-model-len sequence. It leaves out the activation peak and CUDA graphs on purpose:
it only refuses what cannot start. Models or GPUs the table does not know are not checked.

The same table gives the load-time floor (src/vllm_model/loading.py): a startup probe that allows less than
    checkpoint bytes / loading.downloadBytesPerSecond (unless a read-only cache holds the weights)
    + checkpoint bytes / TP / loading.loadBytesPerSecond + loading.engineStartSeconds
kills every cold start before it can serve, and is refused with the figures.
*/}}
{{- define "vllm-inference.validate.sizing" -}}
{{- $v := .Values }}
{{- $e := list }}
{{- $s := .Files.Get "files/sizing.yaml" | fromYaml }}
{{- $tp := $v.vllm.tensorParallelSize | int }}
{{- $gpus := include "vllm-inference.gpuCount" . | int }}
{{- $model := get $s.models (toString $v.model.name) }}
{{- $gpu := get $s.gpus (toString $v.gpu.type) }}
{{- $arch := dict }}
{{- if $model }}{{ $arch = get $s.architectures $model.architecture }}{{ end }}
{{- $quant := $v.model.quantization | default (dig "quantization" "" ($model | default dict) | default "") }}
{{- $q := get $s.quantizations $quant }}
{{- if and $model $gpu (ge $gpus $tp) (hasKey $arch.kvElementsPerToken (toString $tp)) (or (not $quant) $q) (or (eq $v.model.dtype "auto") (hasKey $s.dtypes $v.model.dtype)) }}
{{- $dtype := "" }}
{{- if eq $v.model.dtype "auto" }}
{{- $dtype = index $model.autoDtype (ternary "withBf16" "withoutBf16" $gpu.bf16) }}
{{- else }}
{{- $dtype = (get $s.dtypes $v.model.dtype).canonical }}
{{- end }}
{{- $capability := divf $gpu.capability 10 }}
{{- if and (eq $dtype "bfloat16") (not $gpu.bf16) }}
{{- $e = append $e (printf "model.dtype is bfloat16 but gpu.type %s has no bfloat16 support (compute capability %.1f): use model.dtype: half." $v.gpu.type $capability) }}
{{- end }}
{{- if and $q (lt ($gpu.capability | int) ($q.minCapability | int)) }}
{{- $e = append $e (printf "model.quantization %s needs compute capability %.1f but gpu.type %s has %.1f: pick another quantization or GPU." $quant (divf $q.minCapability 10) $v.gpu.type $capability) }}
{{- end }}
{{- if mod ($arch.attentionHeads | int) $tp }}
{{- $e = append $e (printf "vllm.tensorParallelSize %d does not divide the %d attention heads of %s." $tp ($arch.attentionHeads | int) $v.model.name) }}
{{- end }}
{{- $maxLen := $arch.maxModelLen | int }}
{{- if not (kindIs "invalid" $v.model.maxModelLen) }}
{{- if gt ($v.model.maxModelLen | int) $maxLen }}
{{- $e = append $e (printf "model.maxModelLen %d exceeds the %d tokens %s was trained for (max_position_embeddings)." ($v.model.maxModelLen | int) $maxLen $v.model.name) }}
{{- end }}
{{- $maxLen = $v.model.maxModelLen | int }}
{{- end }}
{{- $util := $s.defaults.gpuMemoryUtilization | float64 }}
{{- if not (kindIs "invalid" $v.vllm.gpuMemoryUtilization) }}{{ $util = $v.vllm.gpuMemoryUtilization | float64 }}{{ end }}
{{- /* --kv-cache-dtype in extraArgs (either `--kv-cache-dtype=fp8` or `--kv-cache-dtype`, `fp8`) */}}
{{- $kvDtype := "auto" }}
{{- $args := $v.vllm.extraArgs | default list }}
{{- range $i, $arg := $args }}
{{- $a := toString $arg }}
{{- if hasPrefix "--kv-cache-dtype=" $a }}{{ $kvDtype = trimPrefix "--kv-cache-dtype=" $a }}{{ end }}
{{- if and (eq $a "--kv-cache-dtype") (lt (add1 $i) (len $args)) }}{{ $kvDtype = toString (index $args (add1 $i)) }}{{ end }}
{{- end }}
{{- $kvElement := (get $s.dtypes $dtype).bytes }}
{{- if hasKey $s.kvCacheDtypes $kvDtype }}{{ $kvElement = get $s.kvCacheDtypes $kvDtype }}{{ end }}
{{- $gib := 1073741824.0 }}
{{- $format := "unquantized" }}
{{- if $q }}{{ $format = $q.method }}{{ end }}
{{- $weights := divf (index $arch.weightBytes $format $dtype) $tp }}
{{- $budget := mulf $gpu.memoryBytes $util }}
{{- $overhead := index $s.runtimeOverheadBytes (toString $tp) | float64 }}
{{- $kv := mulf (index $arch.kvElementsPerToken (toString $tp)) $kvElement $maxLen }}
{{- $free := subf $budget $weights $overhead }}
{{- if lt $free $kv }}
{{- $e = append $e (printf "model.name %s (%s%s, tensor parallel %d) does not fit gpu.type %s: %.0f MiB x gpu-memory-utilization %.2f = %.1f GiB, minus %.1f GiB of weights per GPU and %.2f GiB runtime overhead, leaves %.1f GiB, less than the %.2f GiB KV cache of one %d-token sequence (model.maxModelLen). Use a quantized checkpoint (AWQ/GPTQ, model.dtype: half on T4), a shorter model.maxModelLen, more tensor parallelism or a larger GPU." $v.model.name $dtype (ternary (printf ", %s" $quant) "" (ne $quant "")) $tp $v.gpu.type ($gpu.memoryMiB | float64) $util (divf $budget $gib) (divf $weights $gib) (divf $overhead $gib) (divf $free $gib) (divf $kv $gib) $maxLen) }}
{{- end }}
{{- end }}
{{- if and $model (or (not $quant) $q) (or (eq $v.model.dtype "auto") (hasKey $s.dtypes $v.model.dtype)) (gt $tp 0) }}
{{- $auto := "withBf16" }}
{{- if $gpu }}{{ if not $gpu.bf16 }}{{ $auto = "withoutBf16" }}{{ end }}{{ end }}
{{- $dtype := index $model.autoDtype $auto }}
{{- if ne $v.model.dtype "auto" }}{{ $dtype = (get $s.dtypes $v.model.dtype).canonical }}{{ end }}
{{- $format := "unquantized" }}
{{- if $q }}{{ $format = $q.method }}{{ end }}
{{- $bytes := index $arch.weightBytes $format $dtype | float64 }}
{{- $l := $s.loading }}
{{- $c := $v.modelCache }}
{{- $downloads := not (and (eq $c.mode "existingClaim") $c.existingClaim.readOnly) }}
{{- $download := ternary (divf $bytes $l.downloadBytesPerSecond) 0.0 $downloads }}
{{- $load := divf $bytes $tp $l.loadBytesPerSecond }}
{{- $floor := addf $download $load $l.engineStartSeconds | ceil | int }}
{{- $budget := include "vllm-inference.startupBudget" . | int }}
{{- if lt $budget $floor }}
{{- $p := $v.probes.startup }}
{{- $e = append $e (printf "probes.startup allows %ds (initialDelaySeconds + periodSeconds x failureThreshold) but %s needs at least %ds to start: %.1f GiB of weights%s, %.1f GiB per GPU loaded at %.0f GiB/s, %.0f s of engine start (the catalogue's floor, src/vllm_model/loading.py). Every cold start would be killed before it serves: raise probes.startup.failureThreshold to at least %d." $budget $v.model.name $floor (divf $bytes 1073741824.0) (ternary (printf " downloaded at %.0f GiB/s" (divf $l.downloadBytesPerSecond 1073741824.0)) " read from the read-only cache" $downloads) (divf $bytes $tp 1073741824.0) (divf $l.loadBytesPerSecond 1073741824.0) ($l.engineStartSeconds | float64) (div (add (sub $floor ($p.initialDelaySeconds | int)) (sub ($p.periodSeconds | int) 1)) ($p.periodSeconds | int))) }}
{{- end }}
{{- end }}
{{- toJson $e }}
{{- end }}
