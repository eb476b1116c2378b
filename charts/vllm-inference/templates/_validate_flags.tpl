{{/*
vLLM flags and environment: a model to serve; extraArgs never repeat a flag the chart renders (in any
spelling); every rendered flag exists in the image's vLLM (the args table's `since`); numeric flags get
numbers; vllm.env never repeats a variable the chart sets; LoRA and API-key settings agree.
*/}}
{{- define "vllm-inference.validate.flags" -}}
{{- $v := .Values }}
{{- $e := list }}
{{- if or (kindIs "invalid" $v.model.name) (eq (toString $v.model.name) "") }}
{{- $e = append $e "model.name is empty: name the Hugging Face model id (or a path in the model cache) that vllm serve loads, e.g. model.name: Qwen/Qwen2.5-0.5B-Instruct." }}
{{- end }}
{{- if and $v.vllm.lora.adapters (not $v.vllm.lora.enabled) }}
{{- $e = append $e "vllm.lora.adapters is set but vllm.lora.enabled is false: enable LoRA or remove the adapters." }}
{{- end }}
{{- if and $v.vllm.lora.runtimeUpdates (not $v.vllm.lora.enabled) }}
{{- $e = append $e "vllm.lora.runtimeUpdates is true but vllm.lora.enabled is false." }}
{{- end }}
{{- $owned := include "vllm-inference.ownedFlags" . | fromJsonArray }}
{{- range $arg := $v.vllm.extraArgs }}
{{- $name := include "vllm-inference.flagName" $arg }}
{{- if has $name $owned }}
{{- $e = append $e (printf "vllm.extraArgs contains %s, which the chart renders from its own value (the args table in templates/_args.tpl names it; the API key comes from auth.*): set that value instead, so the chart's checks see what vLLM runs." (toString $arg)) }}
{{- end }}
{{- end }}
{{- $table := include "vllm-inference.argTable" . | fromYamlArray }}
{{- range $row := $table }}
{{- $x := (include "vllm-inference.valueAt" (dict "root" $ "path" $row.path) | fromJson).v }}
{{- /* whole numbers: --set passes them as numbers, so a string came from --set-string or quotes (decimals: the numbers concern) */}}
{{- if and (eq (toString $row.type) "int") (kindIs "string" $x) }}
{{- $e = append $e (printf "%s is the string %q but %s takes a number: write %s unquoted in a values file, and pass it with --set, not --set-string." $row.path $x $row.flag $x) }}
{{- end }}
{{- end }}
{{- if or (kindIs "float64" $v.model.revision) (kindIs "int64" $v.model.revision) }}
{{- $e = append $e (printf "model.revision is the number %v: a numeric-looking commit or tag, unquoted in a values file or given with --set, becomes a number (leading zeros are lost). Quote it in the values file or pass it with --set-string model.revision=...." $v.model.revision) }}
{{- end }}
{{- /* Flags that exist only from some vLLM release: refused, with the fix, for an older or unknown image. */}}
{{- $version := include "vllm-inference.vllmVersion" . }}
{{- $poolArgs := dict }}
{{- range $pool := include "vllm-inference.poolList" . | fromJsonArray }}
{{- $_ := set $poolArgs $pool (include "vllm-inference.args" (dict "root" $ "pool" $pool) | fromYamlArray) }}
{{- end }}
{{- range $row := $table }}
{{- $where := list }}
{{- range $pool, $args := $poolArgs }}{{ if has $row.flag $args }}{{ $where = append $where (printf "pools.%s" $pool) }}{{ end }}{{ end }}
{{- if and $row.since $where (not (include "vllm-inference.vllmAtLeast" (dict "root" $ "since" $row.since))) }}
{{- if not $version }}
{{- $e = append $e (printf "%s render %s (from %s), which vLLM has only from %s, but the image does not say its vLLM version (a digest, or a tag that is not a version): set image.vllmVersion (e.g. --set-string image.vllmVersion=0.33.0)." (join " and " $where) $row.flag $row.path $row.since) }}
{{- else }}
{{- $e = append $e (printf "%s render %s (from %s), which vLLM has only from %s, but the image runs vLLM %s (%s): %s, or use an image with vLLM >= %s." (join " and " $where) $row.flag $row.path $row.since $version (include "vllm-inference.vllmVersionSource" $) $row.older $row.since) }}
{{- end }}
{{- end }}
{{- end }}
{{- $managed := include "vllm-inference.secretEnvNames" . | fromJsonArray }}
{{- range include "vllm-inference.runtimeEnv" . | fromJsonArray }}{{ $managed = append $managed .name }}{{ end }}
{{- range $env := $v.vllm.env }}
{{- if has (toString $env.name) $managed }}
{{- $e = append $e (printf "vllm.env sets %s, which the chart sets itself (home.*, tmp, modelCache.*, auth.*, huggingface.*, vllm.lora.runtimeUpdates decide it): a second entry would silently win. Set the chart's value instead." $env.name) }}
{{- end }}
{{- end }}
{{- if and $v.auth.enabled (not $v.auth.existingSecret) (not $v.auth.apiKey) }}
{{- $e = append $e "auth.enabled is true but neither auth.existingSecret nor auth.apiKey is set." }}
{{- end }}
{{- toJson $e }}
{{- end }}
