{{/* vLLM flags: extraArgs never repeat a flag the chart renders from a value; LoRA and API-key settings agree. */}}
{{- define "vllm-inference.validate.flags" -}}
{{- $v := .Values }}
{{- $e := list }}
{{- if and $v.vllm.lora.adapters (not $v.vllm.lora.enabled) }}
{{- $e = append $e "vllm.lora.adapters is set but vllm.lora.enabled is false: enable LoRA or remove the adapters." }}
{{- end }}
{{- if and $v.vllm.lora.runtimeUpdates (not $v.vllm.lora.enabled) }}
{{- $e = append $e "vllm.lora.runtimeUpdates is true but vllm.lora.enabled is false." }}
{{- end }}
{{- range $flag := include "vllm-inference.ownedFlags" . | fromJsonArray }}
{{- range $arg := $v.vllm.extraArgs }}
{{- if or (eq (toString $arg) $flag) (hasPrefix (printf "%s=" $flag) (toString $arg)) }}
{{- $e = append $e (printf "vllm.extraArgs contains %s, which the chart renders from its own value (see values.yaml; the API key comes from auth.*): set that value instead, so the chart's checks see what vLLM runs." $flag) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and $v.auth.enabled (not $v.auth.existingSecret) (not $v.auth.apiKey) }}
{{- $e = append $e "auth.enabled is true but neither auth.existingSecret nor auth.apiKey is set." }}
{{- end }}
{{- toJson $e }}
{{- end }}
