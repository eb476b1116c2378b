{{/* Model cache: a claim every pod can mount, named when it already exists. */}}
{{- define "vllm-inference.validate.cache" -}}
{{- $v := .Values }}
{{- $c := $v.modelCache }}
{{- $e := list }}
{{- $pools := include "vllm-inference.poolList" . | fromJsonArray }}
{{- $multi := gt (len $pools) 1 }}
{{- range $pool := $pools }}
{{- $p := index $v.pools $pool }}
{{- if or (gt ($p.replicas | int) 1) (and (ne $v.autoscaling.mode "none") (gt ((include "vllm-inference.poolReplicaRange" (dict "root" $ "pool" $pool) | fromJson).max | int) 1)) }}{{ $multi = true }}{{ end }}
{{- end }}
{{- if and (eq $c.mode "pvc") (eq $c.pvc.accessMode "ReadWriteOnce") $multi }}
{{- $e = append $e "modelCache.pvc.accessMode is ReadWriteOnce but more than one pod can run (several pools, replicas or maxReplicas > 1): pods on other nodes cannot mount it and rolling updates stall. Use ReadWriteMany, modelCache.mode: emptyDir, or a single replica." }}
{{- end }}
{{- if eq $c.mode "existingClaim" }}
{{- if and (eq $c.existingClaim.accessMode "ReadWriteOnce") $multi }}
{{- $e = append $e "modelCache.existingClaim.accessMode is ReadWriteOnce but more than one pod can run (several pools, replicas or maxReplicas > 1): use a ReadWriteMany or ReadOnlyMany claim, or modelCache.mode: emptyDir." }}
{{- end }}
{{- if not $c.existingClaim.name }}
{{- $e = append $e "modelCache.mode is existingClaim but modelCache.existingClaim.name is empty." }}
{{- end }}
{{- if and (eq $c.existingClaim.accessMode "ReadOnlyMany") (not $c.existingClaim.readOnly) }}
{{- $e = append $e "modelCache.existingClaim.accessMode is ReadOnlyMany: set modelCache.existingClaim.readOnly: true (and HF_HUB_OFFLINE=1 in vllm.env)." }}
{{- end }}
{{- end }}
{{- toJson $e }}
{{- end }}
