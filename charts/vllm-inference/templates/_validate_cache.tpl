{{/* Model cache: a claim every pod can mount, named when it already exists, writable when it holds the compile cache. */}}
{{- define "vllm-inference.validate.cache" -}}
{{- $v := .Values }}
{{- $c := $v.modelCache }}
{{- $e := list }}
{{- $pools := include "vllm-inference.poolList" . | fromJsonArray }}
{{- $multi := gt (len $pools) 1 }}
{{- range $pool := $pools }}
{{- if gt (include "vllm-inference.poolCeiling" (dict "root" $ "pool" $pool) | int) 1 }}{{ $multi = true }}{{ end }}
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
{{- if and $c.persistCompileCache (eq $c.mode "existingClaim") $c.existingClaim.readOnly }}
{{- $e = append $e "modelCache.persistCompileCache is true but modelCache.existingClaim.readOnly is true: vLLM, triton and flashinfer must write their compile caches. Mount the claim writable, or keep the compile cache in HOME (persistCompileCache: false)." }}
{{- end }}
{{- toJson $e }}
{{- end }}
