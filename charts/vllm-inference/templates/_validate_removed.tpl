{{/*
Keys an earlier chart version read and this one does not (files/removed-values.yaml), refused by name with
what to write: silently ignoring `autoscaling.enabled: true` would leave a release without its autoscaler.
*/}}
{{- define "vllm-inference.validate.removed" -}}
{{- $v := .Values }}
{{- $e := list }}
{{- range $dotted, $r := .Files.Get "files/removed-values.yaml" | fromYaml }}
{{- $node := $v }}
{{- $present := true }}
{{- range $part := splitList "." $dotted }}
{{- if and $present (kindIs "map" $node) (hasKey $node $part) }}{{ $node = index $node $part }}{{ else }}{{ $present = false }}{{ end }}
{{- end }}
{{- if $present }}
{{- $write := printf "%s (%s)" $r.replacedBy ($r.hint | default "see values.yaml") }}
{{- if eq $r.replacedBy "autoscaling.mode" }}
{{- $on := dig "enabled" false $v.autoscaling | toString | eq "true" }}
{{- $keda := dig "enabled" true ($v.keda | default dict) | toString | eq "true" }}
{{- $mode := ternary (ternary "keda" "hpa" $keda) "none" $on }}
{{- $write = printf "autoscaling.mode: %s (what autoscaling.enabled %v with keda.enabled %v meant; the modes are keda, hpa and none)" $mode $on $keda }}
{{- else if eq $r.replacedBy "monitoring.monitor" }}
{{- $old := ternary $node dict (kindIs "map" $node) }}
{{- $on := dig "enabled" false $old | toString | eq "true" }}
{{- $pod := dig "podMonitor" false $old | toString | eq "true" }}
{{- $kind := ternary (ternary "podMonitor" "serviceMonitor" $pod) "none" $on }}
{{- $write = printf "monitoring.monitor.kind: %s (what enabled %v with podMonitor %v meant; the kinds are serviceMonitor, podMonitor and none), with interval and labels moved under monitoring.monitor" $kind $on $pod }}
{{- end }}
{{- $e = append $e (printf "%s was removed in chart %s: delete it and write %s. The chart README's Upgrading section maps every old key." $dotted $r.removedIn $write) }}
{{- end }}
{{- end }}
{{- toJson $e }}
{{- end }}
