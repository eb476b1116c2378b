{{/*
Rollouts: a strategy that cannot deadlock on a full GPU node, and a progress deadline the startup budget fits
in, so a cold start is not reported as a failed rollout.
*/}}
{{- define "vllm-inference.validate.rollout" -}}
{{- $v := .Values }}
{{- $e := list }}
{{- $s := $v.updateStrategy | default dict }}
{{- if eq (toString (get $s "type" | default "RollingUpdate")) "RollingUpdate" }}
{{- $ru := get $s "rollingUpdate" | default dict }}
{{- /* Kubernetes' defaults when unset: 25% each */}}
{{- $surge := ternary (toString (get $ru "maxSurge")) "25%" (hasKey $ru "maxSurge") }}
{{- $unavailable := ternary (toString (get $ru "maxUnavailable")) "25%" (hasKey $ru "maxUnavailable") }}
{{- $none := list "0" "0%" }}
{{- if and (not (has $surge $none)) (not $v.rollout.spareGpuCapacity) }}
{{- $e = append $e (printf "updateStrategy.rollingUpdate.maxSurge is %s: each surge pod needs a free GPU, and on a full node it waits for the one the old pod holds while the old pod waits for it to become ready, so the rollout hangs. Use maxSurge: 0 with maxUnavailable: 1 (the default), or state rollout.spareGpuCapacity: true (spare GPUs, or a node autoscaler that adds GPU nodes)." $surge) }}
{{- end }}
{{- if and (has $surge $none) (has $unavailable $none) }}
{{- $e = append $e "updateStrategy.rollingUpdate.maxSurge and maxUnavailable are both 0: a rollout could never replace a pod (the API server refuses it). Use maxUnavailable: 1." }}
{{- end }}
{{- end }}
{{- $budget := include "vllm-inference.startupBudget" . | int }}
{{- if and (not (kindIs "invalid" $v.rollout.progressDeadlineSeconds)) (lt ($v.rollout.progressDeadlineSeconds | int) $budget) }}
{{- $e = append $e (printf "rollout.progressDeadlineSeconds is %d but the startup probe allows %ds (probes.startup initialDelaySeconds + periodSeconds x failureThreshold): a cold start would be reported as ProgressDeadlineExceeded and helm --wait / Argo CD would call the rollout failed. Raise it above %d, or leave it null (the budget + rollout.provisioningSeconds)." ($v.rollout.progressDeadlineSeconds | int) $budget $budget) }}
{{- end }}
{{- toJson $e }}
{{- end }}
