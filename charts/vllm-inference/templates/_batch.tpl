{{/*
Batch mode (batch.enabled): an Indexed Job whose shard i runs files/batch/batch_shard.py, which runs
`vllm run-batch` over shard i's input lines that have no output yet (docs/batch.md). The pod is the pools'
pod template (templates/_pod.tpl with "batch" true) on pools.<batch.pool>.
*/}}

{{/* Where the wrapper's ConfigMap is mounted. */}}
{{- define "vllm-inference.batchWrapperDir" -}}
/opt/vllm-inference/batch
{{- end }}

{{/* The batch container's command: the wrapper, run by the image's python3 (vllm/vllm-openai has it). */}}
{{- define "vllm-inference.batchCommand" -}}
- python3
- {{ include "vllm-inference.batchWrapperDir" . }}/batch_shard.py
{{- end }}

{{/*
The wrapper's arguments, then `--` and the vLLM command it runs (it appends -i and -o): `vllm run-batch` with
the engine flags of the pool's server (templates/_args.tpl, without the server-only ones), vllm.extraArgs and
batch.extraArgs. A scheduled run writes under its Job's name ($(BATCH_JOB_NAME), set from the pod's label).
*/}}
{{- define "vllm-inference.batchArgs" -}}
{{- $v := .root.Values }}
{{- $mount := $v.batch.data.mountPath | trimSuffix "/" }}
{{- $out := printf "%s/%s" $mount ($v.batch.output.dir | trimSuffix "/") }}
{{- if $v.batch.schedule }}{{ $out = printf "%s/$(BATCH_JOB_NAME)" $out }}{{ end }}
{{- $wrapper := list "--input" (printf "%s/%s" $mount $v.batch.input.path) "--output-dir" $out "--shards" (toString $v.batch.shards) "--" "vllm" "run-batch" }}
{{- $engine := include "vllm-inference.args" (dict "root" .root "pool" .pool "batch" true) | fromYamlArray }}
{{- toYaml (concat $wrapper $engine $v.batch.extraArgs) }}
{{- end }}

{{/*
The Job's spec (the Job, or the CronJob's jobTemplate). podFailurePolicy: a pod with the DisruptionTarget
condition (a spot reclaim through the kubelet's graceful node shutdown, an eviction, a preemption) is
ignored: its shard gets a new pod without using the backoff limit; the configuration errors' exit codes fail
the Job at once; any other failure counts against backoffLimit (and backoffLimitPerIndex). With a
podFailurePolicy a replacement waits until the old pod has terminated (podReplacementPolicy Failed), so a
shard's output never has two writers.
*/}}
{{- define "vllm-inference.batchJobSpec" -}}
{{- $b := .Values.batch -}}
completionMode: Indexed
completions: {{ $b.shards }}
parallelism: {{ $b.parallelism | default $b.shards }}
backoffLimit: {{ $b.backoffLimit }}
{{- if not (kindIs "invalid" $b.backoffLimitPerIndex) }}
backoffLimitPerIndex: {{ $b.backoffLimitPerIndex }}
{{- end }}
{{- if not (kindIs "invalid" $b.activeDeadlineSeconds) }}
activeDeadlineSeconds: {{ $b.activeDeadlineSeconds }}
{{- end }}
{{- if not (kindIs "invalid" $b.ttlSecondsAfterFinished) }}
ttlSecondsAfterFinished: {{ $b.ttlSecondsAfterFinished }}
{{- end }}
podReplacementPolicy: Failed
podFailurePolicy:
  rules:
    - action: Ignore
      onPodConditions:
        - type: DisruptionTarget
          status: "True"
    {{- with $b.failJobExitCodes }}
    - action: FailJob
      onExitCodes:
        containerName: vllm
        operator: In
        values:
          {{- toYaml . | nindent 10 }}
    {{- end }}
template:
  {{- include "vllm-inference.podTemplate" (dict "root" . "pool" $b.pool "batch" true) | nindent 2 }}
{{- end }}
