{{/*
The vLLM container's arguments: the model (positional), then the flags the chart renders from values (the
table below), then vllm.extraArgs. Call with (dict "root" $ "pool" "onDemand"); add "batch" true for
`vllm run-batch`'s engine flags: the model as --model (run-batch takes no positional) and no `server` row.
*/}}

{{/*
Every flag the chart owns, in render order: the value at `path` becomes `flag`, by `kind`:
  positional  the value alone (the model, first)
  value       (default) the flag and the value, unless the value is null, empty or equal to `unless`
  switch      the flag alone when the value is true
  toggle      true: the flag; false: its --no- form; null: nothing (vLLM's own default stays)
  list        the flag once, then every item
  adapters    the flag once, then `name=path` per item
  drain       the flag and the pool's drain value (its pools.<pool>.drain override, else the top-level one),
              when above 0
  env         nothing on the command line: the chart passes it as the environment variable `env`
`when` names a value that must be true for the row to render. `type` (int, number) is what the value must be.
`server` marks the flags only `vllm serve` has (`vllm run-batch` exits 2 on them). `aliases` are vLLM's other
spellings. `since` is the first vLLM release with the flag: the chart refuses to
render it for an older image (templates/_validate_flags.tpl), with `older` saying what to do instead.
vllm.extraArgs may not repeat any of these flags (in any spelling): the chart's checks read the values.
*/}}
{{- define "vllm-inference.argTable" -}}
- {path: model.name, flag: --model, kind: positional}
- {path: vllm.port, flag: --port, type: int, server: true}
- {path: model.servedModelName, flag: --served-model-name, kind: list}
- {path: model.revision, flag: --revision}
- {path: model.maxModelLen, flag: --max-model-len, type: int}
- {path: model.dtype, flag: --dtype, unless: auto}
- {path: model.quantization, flag: --quantization, aliases: [-q]}
- {path: model.trustRemoteCode, flag: --trust-remote-code, kind: switch}
- {path: vllm.tensorParallelSize, flag: --tensor-parallel-size, aliases: [-tp], type: int}
- {path: vllm.maxNumSeqs, flag: --max-num-seqs, type: int}
- {path: vllm.gpuMemoryUtilization, flag: --gpu-memory-utilization, type: number}
- {path: vllm.prefixCaching, flag: --enable-prefix-caching, kind: toggle}
- {path: vllm.blockSize, flag: --block-size, type: int}
- {path: vllm.lora.enabled, flag: --enable-lora, kind: switch}
- {path: vllm.lora.maxLoras, flag: --max-loras, when: vllm.lora.enabled, type: int}
- {path: vllm.lora.maxLoraRank, flag: --max-lora-rank, when: vllm.lora.enabled, type: int}
- {path: vllm.lora.adapters, flag: --lora-modules, kind: adapters, when: vllm.lora.enabled, server: true}
- {path: drain.shutdownTimeoutSeconds, flag: --shutdown-timeout, kind: drain, since: 0.18.0, older: "set drain.shutdownTimeoutSeconds (and any pools.<pool>.drain.shutdownTimeoutSeconds) to 0: before 0.18 vLLM aborts in-flight requests at SIGTERM, and an older server exits on the unknown flag", server: true}
- {path: auth.enabled, flag: --api-key, kind: env, env: VLLM_API_KEY}
{{- end }}

{{/* The value at a dotted path of .Values (null when a part is missing). Call with (dict "root" $ "path" "a.b"). */}}
{{- define "vllm-inference.valueAt" -}}
{{- $x := .root.Values }}
{{- range $key := splitList "." .path }}{{ $x = ternary (index (ternary $x dict (kindIs "map" $x)) $key) nil (kindIs "map" $x) }}{{ end }}
{{- toJson (dict "v" $x) }}
{{- end }}

{{/* A flag as vLLM's parser compares it: the name before `=`, underscores as dashes (--max_num_seqs). */}}
{{- define "vllm-inference.flagName" -}}
{{- $name := regexReplaceAll "=.*$" (toString .) "" }}
{{- printf "%s%s" (regexFind "^-+" $name) (regexReplaceAll "^-+" $name "" | replace "_" "-") }}
{{- end }}

{{/* Every flag the chart owns, as a JSON list: each table row's flag, its aliases and a toggle's --no- form. */}}
{{- define "vllm-inference.ownedFlags" -}}
{{- $flags := list }}
{{- range $row := include "vllm-inference.argTable" . | fromYamlArray }}
{{- $flags = concat $flags (list $row.flag) ($row.aliases | default list) }}
{{- if eq (toString $row.kind) "toggle" }}{{ $flags = append $flags (printf "--no-%s" (trimPrefix "--" $row.flag)) }}{{ end }}
{{- end }}
{{- toJson $flags }}
{{- end }}

{{/*
The value a flag is given in vllm.extraArgs (`--flag value` or `--flag=value`, any spelling in .names), or "".
Call with (dict "args" $list "names" (list "--kv-cache-dtype")).
*/}}
{{- define "vllm-inference.extraArgValue" -}}
{{- $out := "" }}
{{- $args := .args | default list }}
{{- range $i, $arg := $args }}
{{- $a := toString $arg }}
{{- if has (include "vllm-inference.flagName" $a) $.names }}
{{- if contains "=" $a }}{{ $out = regexReplaceAll "^[^=]*=" $a "" }}
{{- else if lt (add1 $i) (len $args) }}{{ $out = toString (index $args (add1 $i)) }}{{ end }}
{{- end }}
{{- end }}
{{- $out }}
{{- end }}

{{/* A flag value as vLLM reads it: whole numbers without a fraction or exponent (131072, not 1.31072e+05). */}}
{{- define "vllm-inference.argValue" -}}
{{- if and (kindIs "float64" .) (eq (floor .) .) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- end }}

{{- define "vllm-inference.args" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $drain := include "vllm-inference.drain" . | fromJson }}
{{- $args := list }}
{{- range $row := include "vllm-inference.argTable" $root | fromYamlArray }}
{{- $x := (include "vllm-inference.valueAt" (dict "root" $root "path" $row.path) | fromJson).v }}
{{- $on := true }}
{{- with $row.when }}
{{- $on = eq (toString (include "vllm-inference.valueAt" (dict "root" $root "path" .) | fromJson).v) "true" }}
{{- end }}
{{- $kind := $row.kind | default "value" }}
{{- if or (not $on) (eq $kind "env") (and $.batch $row.server) }}
{{- else if and (eq $kind "positional") $.batch }}
{{- $args = concat $args (list "--model" $x) }}
{{- else if eq $kind "positional" }}
{{- $args = append $args $x }}
{{- else if eq $kind "drain" }}
{{- if gt ($drain.shutdown | int) 0 }}{{ $args = concat $args (list $row.flag (toString $drain.shutdown)) }}{{ end }}
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
{{- $args = concat $args $v.vllm.extraArgs }}
{{- toYaml $args }}
{{- end }}
