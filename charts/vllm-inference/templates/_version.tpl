{{/*
The vLLM version the image runs, for the flags that exist only from some release (the `since` column of the
args table, templates/_args.tpl). image.vllmVersion when set; else the tag's leading version (v0.33.0,
0.17.1-cu128, v0.10.1.1); else the chart's appVersion when neither a tag nor a digest is set.
*/}}

{{/* The version as "major.minor.patch", or "" when the image does not say (a digest, a tag like nightly). */}}
{{- define "vllm-inference.vllmVersion" -}}
{{- $i := .Values.image }}
{{- $raw := "" }}
{{- if $i.vllmVersion }}{{ $raw = toString $i.vllmVersion }}
{{- else if $i.tag }}{{ $raw = toString $i.tag }}
{{- else if not $i.digest }}{{ $raw = .Chart.AppVersion }}{{ end }}
{{- $m := regexFind "^v?[0-9]+\\.[0-9]+(\\.[0-9]+)?" $raw | trimPrefix "v" }}
{{- if $m }}
{{- $parts := splitList "." $m }}
{{- if eq (len $parts) 2 }}{{ $parts = append $parts "0" }}{{ end }}
{{- printf "%d.%d.%d" (index $parts 0 | int) (index $parts 1 | int) (index $parts 2 | int) }}
{{- end }}
{{- end }}

{{/* Where the version came from, for messages. */}}
{{- define "vllm-inference.vllmVersionSource" -}}
{{- $i := .Values.image }}
{{- if $i.vllmVersion }}image.vllmVersion{{ else if $i.tag }}image.tag{{ else }}the chart's appVersion{{ end }}
{{- end }}

{{/* "true" when the image's vLLM is at least .since (e.g. "0.18.0"); "" when older or unknown. */}}
{{- define "vllm-inference.vllmAtLeast" -}}
{{- $v := include "vllm-inference.vllmVersion" .root }}
{{- if and $v (semverCompare (printf ">=%s" .since) $v) }}true{{ end }}
{{- end }}
