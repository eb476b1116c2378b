{{/* Image: a pinned, well-formed reference; versions given as strings, never as numbers --set made of them. */}}
{{- define "vllm-inference.validate.image" -}}
{{- $i := .Values.image }}
{{- $e := list }}
{{- if and (eq (toString $i.tag) "latest") (not $i.digest) (not $i.allowLatestTag) }}
{{- $e = append $e "image.tag is \"latest\": rollouts and spot replacements could start different vLLM versions. Pin a release tag (default: the chart's appVersion), set image.digest, or set image.allowLatestTag: true." }}
{{- end }}
{{- if and $i.digest (not (regexMatch "^sha256:[a-f0-9]{64}$" $i.digest)) }}
{{- $e = append $e (printf "image.digest %q is not a sha256 digest (sha256: followed by 64 hex digits)." $i.digest) }}
{{- end }}
{{- range $key, $value := dict "image.tag" $i.tag "image.vllmVersion" $i.vllmVersion "tests.image.tag" .Values.tests.image.tag }}
{{- if or (kindIs "float64" $value) (kindIs "int64" $value) (kindIs "int" $value) }}
{{- $e = append $e (printf "%s is the number %v: an unquoted version in a values file is a YAML number (0.10 becomes 0.1, 0.20 becomes 0.2). Quote it (\"0.20\") or pass it with --set-string %s=...; a tag is a string." $key $value $key) }}
{{- end }}
{{- end }}
{{- if and $i.vllmVersion (kindIs "string" $i.vllmVersion) (not (include "vllm-inference.vllmVersion" .)) }}
{{- $e = append $e (printf "image.vllmVersion %q is not a vLLM version: write major.minor[.patch], e.g. 0.33.0." $i.vllmVersion) }}
{{- end }}
{{- toJson $e }}
{{- end }}
