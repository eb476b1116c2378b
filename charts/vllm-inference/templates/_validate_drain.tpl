{{/*
Drain timing, per pool: the preStop sleep covers the load balancer's deregistration delay, the grace period
covers the drain, and the spot pool's fits its reclaim notice.
*/}}
{{- define "vllm-inference.validate.drain" -}}
{{- $v := .Values }}
{{- $e := list }}
{{- $notice := include "vllm-inference.spotNotice" . | int }}
{{- range $pool := include "vllm-inference.poolList" . | fromJsonArray }}
{{- $d := include "vllm-inference.drain" (dict "root" $ "pool" $pool) | fromJson }}
{{- $need := add $d.preStop $d.shutdown }}
{{- if and $d.graceExplicit (lt ($d.grace | int) ($need | int)) }}
{{- $e = append $e (printf "pools.%s.terminationGracePeriodSeconds is %d but the preStop sleep (%ds) plus vLLM's shutdown timeout (%ds) need %ds: pods would be killed mid-drain. Raise it or lower drain.preStopSleepSeconds / drain.shutdownTimeoutSeconds (or their pools.%s.drain overrides)." $pool ($d.grace | int) ($d.preStop | int) ($d.shutdown | int) ($need | int) $pool) }}
{{- end }}
{{- $lb := $v.capacityType.loadBalancerDeregistrationSeconds | int }}
{{- if lt ($d.preStop | int) $lb }}
{{- $e = append $e (printf "pools.%s preStop sleep is %ds (drain.preStopSleepSeconds or pools.%s.drain.preStopSleepSeconds) but the load balancer keeps sending new requests for %ds after a pod starts terminating (capacityType.loadBalancerDeregistrationSeconds): vLLM would refuse them while they still arrive. Raise the preStop sleep to at least %d, or shorten the load balancer's deregistration delay." $pool ($d.preStop | int) $pool $lb $lb) }}
{{- end }}
{{- if and (eq $pool "spot") (gt ($d.grace | int) $notice) }}
{{- $e = append $e (printf "pools.spot drain takes %ds (pools.spot.terminationGracePeriodSeconds, or pools.spot.drain.preStopSleepSeconds + shutdownTimeoutSeconds + marginSeconds) but the %s spot reclaim notice is %ds (capacityType.spotNoticeSeconds): in-flight requests would be cut. Shorten the spot pool's drain to fit the notice." ($d.grace | int) $v.capacityType.provider $notice) }}
{{- end }}
{{- end }}
{{- toJson $e }}
{{- end }}
