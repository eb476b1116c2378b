{{/*
The vLLM container's arguments: the model (positional), the flags rendered from values (the table below),
--shutdown-timeout from the pool's drain, then vllm.extraArgs. Call with (dict "root" $ "pool" "onDemand").
*/}}

{{/*
The flags the chart renders from values, in render order: the value at `path` becomes `flag`, by `kind`:
  value    (default) the flag and the value, unless the value is null, empty or equal to `unless`
  switch   the flag alone when the value is true
  toggle   true: the flag; false: its --no- form; null: nothing (vLLM's own default stays)
  list     the flag once, then every item
  adapters the flag once, then `name=path` per item
`when` names a value that must be true for the row to render. vllm.extraArgs may not repeat these flags.
*/}}
{{- define "vllm-inference.argTable" -}}
- {path: vllm.port, flag: --port}
- {path: model.servedModelName, flag: --served-model-name, kind: list}
- {path: model.revision, flag: --revision}
- {path: model.maxModelLen, flag: --max-model-len}
- {path: model.dtype, flag: --dtype, unless: auto}
- {path: model.quantization, flag: --quantization}
- {path: model.trustRemoteCode, flag: --trust-remote-code, kind: switch}
- {path: vllm.tensorParallelSize, flag: --tensor-parallel-size}
- {path: vllm.maxNumSeqs, flag: --max-num-seqs}
- {path: vllm.gpuMemoryUtilization, flag: --gpu-memory-utilization}
- {path: vllm.prefixCaching, flag: --enable-prefix-caching, kind: toggle}
- {path: vllm.blockSize, flag: --block-size}
- {path: vllm.lora.enabled, flag: --enable-lora, kind: switch}
- {path: vllm.lora.maxLoras, flag: --max-loras, when: vllm.lora.enabled}
- {path: vllm.lora.maxLoraRank, flag: --max-lora-rank, when: vllm.lora.enabled}
- {path: vllm.lora.adapters, flag: --lora-modules, kind: adapters, when: vllm.lora.enabled}
{{- end }}

{{/* Every flag the chart owns, as a JSON list: the table's (toggles in both forms) and those it derives. */}}
{{- define "vllm-inference.ownedFlags" -}}
{{- $flags := list "--model" "--shutdown-timeout" "--api-key" }}
{{- range $row := include "vllm-inference.argTable" . | fromYamlArray }}
{{- $flags = append $flags $row.flag }}
{{- if eq (toString $row.kind) "toggle" }}{{ $flags = append $flags (printf "--no-%s" (trimPrefix "--" $row.flag)) }}{{ end }}
{{- end }}
{{- toJson $flags }}
{{- end }}

{{/* A flag value as vLLM reads it: whole numbers without a fraction or exponent (131072, not 1.31072e+05). */}}
{{- define "vllm-inference.argValue" -}}
{{- if and (kindIs "float64" .) (eq (floor .) .) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- end }}

{{- define "vllm-inference.args" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $drain := include "vllm-inference.drain" . | fromJson }}
{{- $args := list $v.model.name }}
{{- range $row := include "vllm-inference.argTable" $root | fromYamlArray }}
{{- $x := $v }}
{{- range $key := splitList "." $row.path }}{{ $x = index $x $key }}{{ end }}
{{- $on := true }}
{{- with $row.when }}
{{- $w := $v }}
{{- range $key := splitList "." . }}{{ $w = index $w $key }}{{ end }}
{{- $on = eq (toString $w) "true" }}
{{- end }}
{{- $kind := $row.kind | default "value" }}
{{- if not $on }}
{{- else if eq $kind "switch" }}
{{- if eq (toString $x) "true" }}{{ $args = append $args $row.flag }}{{ end }}
{{- else if eq $kind "toggle" }}
{{- if eq (toString $x) "true" }}{{ $args = append $args $row.flag }}{{ end }}
{{- if eq (toString $x) "false" }}{{ $args = append $args (printf "--no-%s" (trimPrefix "--" $row.flag)) }}{{ end }}
{{- else if eq $kind "list" }}
{{- with $x }}{{ $args = concat $args (list $row.flag) . }}{{ end }}
{{- else if eq $kind "adapters" }}
{{- with $x }}{{ $args = append $args $row.flag }}{{ range . }}{{ $args = append $args (printf "%s=%s" .name .path) }}{{ end }}{{ end }}
{{- else if not (or (kindIs "invalid" $x) (eq (toString $x) "") (and $row.unless (eq (toString $x) $row.unless))) }}
{{- $args = concat $args (list $row.flag (include "vllm-inference.argValue" $x)) }}
{{- end }}
{{- end }}
{{- if gt ($drain.shutdown | int) 0 }}
{{- $args = concat $args (list "--shutdown-timeout" (toString $drain.shutdown)) }}
{{- end }}
{{- $args = concat $args $v.vllm.extraArgs }}
{{- toYaml $args }}
{{- end }}
