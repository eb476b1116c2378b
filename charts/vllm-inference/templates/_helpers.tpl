{{/*
Names, labels and small value helpers. Every template name carries the chart prefix (template names are
global across subcharts).
*/}}

{{/* Chart name, overridable. */}}
{{- define "vllm-inference.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name prefix of every object: <release>-<chart>, or the release when it already contains the chart name. */}}
{{- define "vllm-inference.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* chart label value: <name>-<version>. */}}
{{- define "vllm-inference.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Standard labels. Call with (dict "root" $ "component" "pool-spot"); component defaults to "server".
*/}}
{{- define "vllm-inference.labels" -}}
{{- $root := .root -}}
helm.sh/chart: {{ include "vllm-inference.chart" $root }}
{{ include "vllm-inference.selectorLabels" . }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: {{ $root.Values.partOf }}
{{- with $root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels: name + instance (+ component when given). Never the version: selectors are immutable.
Call with (dict "root" $ "component" "pool-spot") or (dict "root" $) for the whole release (the Service).
*/}}
{{- define "vllm-inference.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vllm-inference.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/* ServiceAccount name. */}}
{{- define "vllm-inference.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "vllm-inference.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Image reference: the digest wins over the tag; the tag defaults to appVersion. */}}
{{- define "vllm-inference.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Names of the secrets. */}}
{{- define "vllm-inference.hfSecretName" -}}
{{- default (include "vllm-inference.suffixedName" (dict "root" . "suffix" "hf-token")) .Values.huggingface.existingSecret }}
{{- end }}
{{- define "vllm-inference.apiKeySecretName" -}}
{{- default (include "vllm-inference.suffixedName" (dict "root" . "suffix" "api-key")) .Values.auth.existingSecret }}
{{- end }}

{{/* Name of the model cache claim. */}}
{{- define "vllm-inference.cacheClaimName" -}}
{{- if eq .Values.modelCache.mode "existingClaim" }}
{{- .Values.modelCache.existingClaim.name }}
{{- else }}
{{- include "vllm-inference.suffixedName" (dict "root" . "suffix" "model-cache") }}
{{- end }}
{{- end }}

{{/* GPUs per pod: gpu.count, or the tensor-parallel size. */}}
{{- define "vllm-inference.gpuCount" -}}
{{- if kindIs "invalid" .Values.gpu.count }}
{{- .Values.vllm.tensorParallelSize | int }}
{{- else }}
{{- .Values.gpu.count | int }}
{{- end }}
{{- end }}

{{/* Enabled pool keys, space separated, in a fixed order (onDemand first). */}}
{{- define "vllm-inference.enabledPools" -}}
{{- $keys := list }}
{{- range $key := list "onDemand" "spot" }}
{{- if (index $.Values.pools $key).enabled }}
{{- $keys = append $keys $key }}
{{- end }}
{{- end }}
{{- join " " $keys }}
{{- end }}

{{/* Enabled pools as a JSON list (each gets a Deployment, a PDB and, unless autoscaling.mode is none, an autoscaler). */}}
{{- define "vllm-inference.poolList" -}}
{{- include "vllm-inference.enabledPools" . | splitList " " | compact | toJson }}
{{- end }}

{{/* Pool name suffix (on-demand, spot), component label (pool-on-demand) and object name. */}}
{{- define "vllm-inference.poolSlug" -}}
{{- kebabcase . }}
{{- end }}
{{- define "vllm-inference.poolComponent" -}}
{{- printf "pool-%s" (kebabcase .) }}
{{- end }}
{{- define "vllm-inference.poolFullname" -}}
{{- include "vllm-inference.suffixedName" (dict "root" .root "suffix" (kebabcase .pool)) }}
{{- end }}

{{/*
<fullname>-<suffix> within 63 characters: the prefix is shortened, never the suffix, so two objects with
different suffixes never truncate to the same name. Call with (dict "root" $ "suffix" "spot").
*/}}
{{- define "vllm-inference.suffixedName" -}}
{{- printf "%s-%s" (include "vllm-inference.fullname" .root | trunc (int (sub 62 (len .suffix))) | trimSuffix "-") .suffix }}
{{- end }}

{{/*
Drain timing of one pool as JSON {preStop, shutdown, margin, grace, graceExplicit}. The pool's own value
wins when it is not null (0 is a value), else the top-level drain.*.
*/}}
{{- define "vllm-inference.drain" -}}
{{- $root := .root }}
{{- $p := index $root.Values.pools .pool }}
{{- $out := dict }}
{{- range $k, $field := dict "preStop" "preStopSleepSeconds" "shutdown" "shutdownTimeoutSeconds" "margin" "marginSeconds" }}
{{- $v := index $p.drain $field }}
{{- if kindIs "invalid" $v }}{{ $v = index $root.Values.drain $field }}{{ end }}
{{- $_ := set $out $k ($v | int) }}
{{- end }}
{{- if kindIs "invalid" $p.terminationGracePeriodSeconds }}
{{- $_ := set $out "grace" (add $out.preStop $out.shutdown $out.margin) }}
{{- $_ := set $out "graceExplicit" false }}
{{- else }}
{{- $_ := set $out "grace" ($p.terminationGracePeriodSeconds | int) }}
{{- $_ := set $out "graceExplicit" true }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* Spot reclaim notice in seconds for the configured provider. */}}
{{- define "vllm-inference.spotNotice" -}}
{{- if not (kindIs "invalid" .Values.capacityType.spotNoticeSeconds) }}
{{- .Values.capacityType.spotNoticeSeconds | int }}
{{- else }}
{{- /* GKE: 30 s graceful node shutdown, the first 15 s for non-system pods. AWS: a 2-minute notice. */}}
{{- get (dict "gke" 15 "aks" 30 "eks" 120 "karpenter" 120 "labels" 30 "none" 30) .Values.capacityType.provider | default 30 }}
{{- end }}
{{- end }}

{{/*
Share of the demand a pool carries: with both pools, spot = autoscaling.spotShare and on-demand the rest;
a pool alone carries everything.
*/}}
{{- define "vllm-inference.poolShare" -}}
{{- $root := .root }}
{{- $both := and $root.Values.pools.onDemand.enabled $root.Values.pools.spot.enabled }}
{{- $spot := $root.Values.autoscaling.spotShare | float64 }}
{{- if not $both }}1{{ else if eq .pool "spot" }}{{ round $spot 4 }}{{ else }}{{ round (subf 1 $spot) 4 }}{{ end }}
{{- end }}

{{/*
Min and max replicas of a pool under autoscaling, as JSON {min, max}. A pool without its own maxReplicas gets
its share of autoscaling.maxReplicas; with both pools the on-demand pool adds autoscaling.onDemandHeadroom x
the spot pool's maximum, the failover capacity for demand that spot cannot serve.
*/}}
{{- define "vllm-inference.poolReplicaRange" -}}
{{- $root := .root }}
{{- $a := $root.Values.autoscaling }}
{{- $p := index $root.Values.pools .pool }}
{{- $max := $p.maxReplicas }}
{{- if kindIs "invalid" $max }}
{{- $total := $a.maxReplicas | int }}
{{- $both := and $root.Values.pools.onDemand.enabled $root.Values.pools.spot.enabled }}
{{- if not $both }}
{{- $max = $total }}
{{- else }}
{{- $spotMax := mulf $total ($a.spotShare | float64) | ceil | int }}
{{- if eq .pool "spot" }}
{{- $max = $spotMax }}
{{- else }}
{{- $spotPoolMax := $root.Values.pools.spot.maxReplicas | default $spotMax | int }}
{{- $max = add (max 1 (sub $total $spotMax)) (include "vllm-inference.onDemandHeadroom" (dict "root" $root "spotMax" $spotPoolMax)) }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson (dict "min" ($p.minReplicas | int) "max" ($max | int)) }}
{{- end }}

{{/* Replicas the on-demand pool keeps in reserve for a spot loss: ceil(onDemandHeadroom x the spot maximum). */}}
{{- define "vllm-inference.onDemandHeadroom" -}}
{{- mulf .spotMax (.root.Values.autoscaling.onDemandHeadroom | float64) | ceil | int }}
{{- end }}

{{/* Replicas of a pool when autoscaling.mode is none (null: 1). */}}
{{- define "vllm-inference.poolReplicas" -}}
{{- $r := (index .root.Values.pools .pool).replicas }}
{{- if kindIs "invalid" $r }}1{{ else }}{{ $r | int }}{{ end }}
{{- end }}

{{/* The fewest pods a pool runs: its replicas, or the autoscaler's minimum. */}}
{{- define "vllm-inference.poolFloor" -}}
{{- if eq .root.Values.autoscaling.mode "none" }}{{ include "vllm-inference.poolReplicas" . }}
{{- else }}{{ (index .root.Values.pools .pool).minReplicas | int }}{{ end }}
{{- end }}

{{/* The most pods a pool runs: its replicas, or the autoscaler's maximum. */}}
{{- define "vllm-inference.poolCeiling" -}}
{{- if eq .root.Values.autoscaling.mode "none" }}{{ include "vllm-inference.poolReplicas" . }}
{{- else }}{{ (include "vllm-inference.poolReplicaRange" . | fromJson).max | int }}{{ end }}
{{- end }}

{{/* Seconds the startup probe allows a pod to download and load the model. */}}
{{- define "vllm-inference.startupBudget" -}}
{{- $s := .Values.probes.startup }}
{{- add ($s.initialDelaySeconds | int) (mul ($s.periodSeconds | int) ($s.failureThreshold | int)) }}
{{- end }}

{{/* progressDeadlineSeconds: the value, or the startup budget plus the provisioning allowance. */}}
{{- define "vllm-inference.progressDeadline" -}}
{{- $r := .Values.rollout }}
{{- if kindIs "invalid" $r.progressDeadlineSeconds }}
{{- add (include "vllm-inference.startupBudget" . | int) ($r.provisioningSeconds | int) }}
{{- else }}{{ $r.progressDeadlineSeconds | int }}{{ end }}
{{- end }}

{{/* Whether a spot reclaim drains through the Eviction API (and so through PDBs): "true" or "". */}}
{{- define "vllm-inference.spotDrainHonoursPdb" -}}
{{- $c := .Values.capacityType }}
{{- if not (kindIs "invalid" $c.spotDrainHonoursPdb) }}{{ ternary "true" "" $c.spotDrainHonoursPdb }}
{{- else }}{{ ternary "" "true" (has $c.provider (list "gke" "aks")) }}{{ end }}
{{- end }}

{{/*
A pool's PDB budget as JSON {minAvailable, maxUnavailable} (one of them null). The spot pool's unset budget is
100% where reclaims drain through PDBs (AWS): a smaller one would hold the next eviction past the notice.
*/}}
{{- define "vllm-inference.pdbBudget" -}}
{{- $b := (index .root.Values.pools .pool).pdb }}
{{- $max := $b.maxUnavailable }}
{{- if and (kindIs "invalid" $max) (kindIs "invalid" $b.minAvailable) }}
{{- $max = ternary "100%" 1 (and (eq .pool "spot") (eq (include "vllm-inference.spotDrainHonoursPdb" .root) "true")) }}
{{- end }}
{{- toJson (dict "minAvailable" $b.minAvailable "maxUnavailable" $max) }}
{{- end }}

{{/* --max-num-seqs in effect: the value, or vLLM's default for gpu.type (files/sizing.yaml, from the catalogue). */}}
{{- define "vllm-inference.maxNumSeqs" -}}
{{- if not (kindIs "invalid" .Values.vllm.maxNumSeqs) }}
{{- .Values.vllm.maxNumSeqs | int }}
{{- else }}
{{- $s := .Files.Get "files/sizing.yaml" | fromYaml }}
{{- dig .Values.gpu.type "maxNumSeqs" $s.defaults.maxNumSeqs $s.gpus | int }}
{{- end }}
{{- end }}

{{/*
Labels of the helm test pods. They carry a different app.kubernetes.io/name so the Service, which selects
name + instance, never routes API traffic to a test pod.
*/}}
{{- define "vllm-inference.testSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-test" (include "vllm-inference.name" .) }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: test
{{- end }}

{{/*
A Kubernetes quantity (e.g. 8Gi, 512Mi, 2G, 1073741824) in bytes; 0 for a unit it does not know.
*/}}
{{- define "vllm-inference.quantityBytes" -}}
{{- $q := toString . }}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $q }}
{{- $unit := trimPrefix $number $q }}
{{- $multipliers := dict "" 1.0 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "k" 1000.0 "M" 1000000.0 "G" 1000000000.0 "T" 1000000000000.0 }}
{{- if hasKey $multipliers $unit }}{{ mulf ($number | float64) (get $multipliers $unit) }}{{ else }}0{{ end }}
{{- end }}

{{/* Prometheus trigger metadata the chart's TriggerAuthentication needs: authModes, or AMP's awsRegion. */}}
{{- define "vllm-inference.kedaAuthMetadata" -}}
{{- $a := .Values.keda.authentication }}
{{- if eq $a.mode "podIdentity" }}
{{- if eq $a.podIdentity.provider "aws" }}
awsRegion: {{ $a.podIdentity.awsRegion | quote }}
{{- end }}
{{- else }}
authModes: {{ ternary "bearer" $a.mode (eq $a.mode "boundServiceAccountToken") | quote }}
{{- end }}
{{- end }}
