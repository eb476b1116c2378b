{{/*
All value checks. values.schema.json refuses wrong types, unknown keys and out-of-range numbers first; the
checks here cover what a schema cannot express (relations between keys, arithmetic) and repeat the unit
checks that matter most, because `helm install --skip-schema-validation` bypasses the schema.

One helper per concern, each in its own _validate_<concern>.tpl, returns its problems as a JSON list of
sentences that name the keys and the fix; this one collects them all and fails once. deployment.yaml
includes it first, and a `fail` anywhere aborts the whole render, so invalid values produce no output.
*/}}
{{- define "vllm-inference.validate" -}}
{{- $e := list }}
{{- range $concern := list "removed" "numbers" "image" "flags" "pools" "resources" "sizing" "cache" "drain" "rollout" "autoscaling" "exposure" "monitoring" "batch" }}
{{- $e = concat $e (include (printf "vllm-inference.validate.%s" $concern) $ | fromJsonArray) }}
{{- end }}
{{- if $e }}
{{- fail (printf "\n\nvllm-inference: %d problem(s) in the values:\n  - %s\n" (len $e) (join "\n  - " $e)) }}
{{- end }}
{{- end }}
