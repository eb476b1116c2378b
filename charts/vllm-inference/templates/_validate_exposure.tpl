{{/*
Exposure and routing: an Ingress names its hosts, an HTTPRoute its Gateway, and both publish only the API:
vLLM's API key guards /v1, /v2 and /inference alone, so no published path may be, or cover, a path below.
*/}}
{{- define "vllm-inference.validate.exposure" -}}
{{- $v := .Values }}
{{- $e := list }}
{{- if and $v.ingress.enabled (not $v.ingress.hosts) }}
{{- $e = append $e "ingress.enabled is true but ingress.hosts is empty." }}
{{- end }}
{{- if and $v.httpRoute.enabled (not $v.httpRoute.parentRefs) }}
{{- $e = append $e "httpRoute.enabled is true but httpRoute.parentRefs is empty: name the Gateway the route attaches to." }}
{{- end }}
{{- range $i, $h := $v.ingress.hosts }}
{{- if hasKey $h "paths" }}
{{- $e = append $e (printf "ingress.hosts[%d].paths was removed in chart 0.3.0: every host publishes exposure.paths, the allowlist of API paths (a host's own `/` would publish /metrics and the admin paths). Delete it and list extra API paths in exposure.paths." $i) }}
{{- end }}
{{- end }}
{{- if and (or $v.ingress.enabled $v.httpRoute.enabled) (not $v.exposure.paths) }}
{{- $e = append $e "exposure.paths is empty but an Ingress or HTTPRoute is enabled: list the API paths to publish (values.yaml's default is the OpenAI API)." }}
{{- end }}
{{- range $p := $v.exposure.paths }}
{{- $path := toString $p.path }}
{{- $prefix := printf "%s/" ($path | trimSuffix "/") }}
{{- range $closed := include "vllm-inference.unprotectedPaths" $ | fromJsonArray }}
{{- $covers := and (eq $p.pathType "Prefix") (or (eq $path "/") (hasPrefix $prefix $closed)) }}
{{- if or (eq ($path | trimSuffix "/") $closed) (hasPrefix (printf "%s/" $closed) $path) $covers }}
{{- $e = append $e (printf "exposure.paths publishes %s (%s), which %s %s: vLLM serves it to anyone (its API key guards /v1 only, and %s is not an API path). List only API paths, e.g. /v1/chat/completions (Exact)." $path $p.pathType (ternary "covers" "is" $covers) $closed $closed) }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson $e }}
{{- end }}

{{/*
Paths vLLM serves that an Ingress or HTTPRoute must never publish: /metrics and the paths outside the API key
(vLLM 0.33's security notes and vllm/entrypoints/openai/api_server.py), and the runtime LoRA endpoints, which
are under /v1 but load code-bearing adapters.
*/}}
{{- define "vllm-inference.unprotectedPaths" -}}
["/metrics", "/invocations", "/pooling", "/classify", "/score", "/rerank", "/tokenize", "/detokenize", "/pause", "/resume", "/is_paused", "/update_weights", "/sleep", "/wake_up", "/is_sleeping", "/reset_prefix_cache", "/collective_rpc", "/start_profile", "/stop_profile", "/server_info", "/scale_elastic_ep", "/is_scaling_elastic_ep", "/v1/load_lora_adapter", "/v1/unload_lora_adapter"]
{{- end }}
