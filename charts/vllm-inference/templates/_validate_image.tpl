{{/* Image: a pinned, well-formed reference. */}}
{{- define "vllm-inference.validate.image" -}}
{{- $i := .Values.image }}
{{- $e := list }}
{{- if and (eq (toString $i.tag) "latest") (not $i.digest) (not $i.allowLatestTag) }}
{{- $e = append $e "image.tag is \"latest\": rollouts and spot replacements could start different vLLM versions. Pin a release tag (default: the chart's appVersion), set image.digest, or set image.allowLatestTag: true." }}
{{- end }}
{{- if and $i.digest (not (regexMatch "^sha256:[a-f0-9]{64}$" $i.digest)) }}
{{- $e = append $e (printf "image.digest %q is not a sha256 digest (sha256: followed by 64 hex digits)." $i.digest) }}
{{- end }}
{{- toJson $e }}
{{- end }}
