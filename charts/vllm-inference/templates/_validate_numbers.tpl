{{/*
Decimals given with `helm --set`: helm passes 0.9 as the string "0.9" (only whole numbers become numbers),
so the schema lets a decimal string through where a fraction or a rate is meant, and cannot range-check it:
this does, for strings and numbers alike (also when the schema is skipped). The KV-cache and queue
thresholds are checked with their units in the autoscaling and monitoring concerns, and every KEDA/HPA
threshold against KEDA's 3-decimal resolution in the autoscaling concern.
*/}}
{{- define "vllm-inference.validate.numbers" -}}
{{- $e := list }}
{{- range $row := include "vllm-inference.decimalRanges" . | fromYamlArray }}
{{- $x := (include "vllm-inference.valueAt" (dict "root" $ "path" $row.path) | fromJson).v }}
{{- if not (kindIs "invalid" $x) }}
{{- $text := toString $x }}
{{- if and (kindIs "string" $x) (not (regexMatch (include "vllm-inference.decimalPattern" $) $text)) }}
{{- $e = append $e (printf "%s is %q: write a number (e.g. %v), unquoted in a values file; --set passes decimals as strings, which the chart accepts." $row.path $text $row.example) }}
{{- else }}
{{- $n := $x | float64 }}
{{- $low := $row.min | float64 }}
{{- if or (lt $n $low) (and $row.exclusiveMin (eq $n $low)) (and (hasKey $row "max") (gt $n ($row.max | float64))) }}
{{- $e = append $e (printf "%s is %s but must be %s %v%s (e.g. %v)." $row.path $text (ternary "above" "at least" (eq (toString $row.exclusiveMin) "true")) $row.min (ternary (printf " and at most %v" $row.max) "" (hasKey $row "max")) $row.example) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson $e }}
{{- end }}

{{/* The decimal values and their ranges (the schema's, which it cannot apply to a string). */}}
{{- define "vllm-inference.decimalRanges" -}}
- {path: vllm.gpuMemoryUtilization, min: 0, exclusiveMin: true, max: 1, example: 0.9}
- {path: autoscaling.spotShare, min: 0, max: 1, example: 0.7}
- {path: autoscaling.onDemandHeadroom, min: 0, max: 1, example: 1}
- {path: autoscaling.triggers.requestsWaiting.activationThreshold, min: 0, example: 2}
- {path: autoscaling.triggers.wake.threshold, min: 0, exclusiveMin: true, example: 1}
- {path: autoscaling.triggers.wake.activationThreshold, min: 0, example: 0}
- {path: monitoring.prometheusRule.queueWaitingThreshold, min: 0, exclusiveMin: true, example: 10}
- {path: monitoring.prometheusRule.ttftP95SloSeconds, min: 0, exclusiveMin: true, example: 2}
- {path: monitoring.prometheusRule.errorRatioThreshold, min: 0, exclusiveMin: true, max: 1, example: 0.05}
- {path: monitoring.prometheusRule.preemptionsPerSecond, min: 0, exclusiveMin: true, example: 0.1}
{{- end }}

{{/* A decimal as --set passes it: digits, optionally a point and more digits (the schema's pattern too). */}}
{{- define "vllm-inference.decimalPattern" -}}
^[0-9]+(\.[0-9]+)?$
{{- end }}
