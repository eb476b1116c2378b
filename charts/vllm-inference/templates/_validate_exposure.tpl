{{/* Exposure and routing: an Ingress names its hosts, an HTTPRoute its Gateway. */}}
{{- define "vllm-inference.validate.exposure" -}}
{{- $v := .Values }}
{{- $e := list }}
{{- if and $v.ingress.enabled (not $v.ingress.hosts) }}
{{- $e = append $e "ingress.enabled is true but ingress.hosts is empty." }}
{{- end }}
{{- if and $v.httpRoute.enabled (not $v.httpRoute.parentRefs) }}
{{- $e = append $e "httpRoute.enabled is true but httpRoute.parentRefs is empty: name the Gateway the route attaches to." }}
{{- end }}
{{- toJson $e }}
{{- end }}
