{{/*
All value checks the schema cannot express. Problems are collected and the chart fails once, listing each
with the keys it concerns and the fix.
*/}}
{{- define "vllm-inference.validate" -}}
{{- $errors := list }}
{{- if $errors }}
{{- fail (printf "\n\nvllm-inference: invalid values:\n  - %s\n" (join "\n  - " $errors)) }}
{{- end }}
{{- end }}
