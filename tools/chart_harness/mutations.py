"""Mutation check: break the chart on purpose, one defect at a time, and prove the named test catches it.

Each mutation replaces one snippet in a COPY of the chart (the working tree is never touched) and runs the
test that guards that property against the copy ($VLLM_INFERENCE_CHART), with a fresh render cache. The
mutation is "caught" when that test fails. A snippet that no longer exists in the chart is reported as
"stale" (the chart changed: update the mutation), not as a pass.

    python -m chart_harness.mutations            # all mutations
    python -m chart_harness.mutations -k grace   # those whose name contains "grace"
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .render import CHART_DIR, ROOT
from .renders import STOP_AT_FIRST_FAILURE_ENV

T = "tests/chart/"
INV = T + "test_invariants.py::"
MATRIX = T + "test_render_matrix.py::test_case_renders_and_every_object_validates_strictly"
TOGGLE = T + "test_toggles.py::test_toggle_renders_its_objects_only_when_on"
FLAGS = INV + "test_server_runs_the_image_entrypoint_with_model_first_and_named_flags"
PROBES = INV + "test_all_three_probes_hit_health_on_the_server_port_with_their_own_timing"
BAD = T + "test_bad_inputs.py::test_bad_value_is_refused_naming_the_key"
BAD_OLD = T + "test_bad_inputs.py::test_a_removed_key_is_refused_with_the_replacement_its_old_values_meant"
SIZING = T + "test_tpl_sizing.py::"
BATCH = T + "test_tpl_batch.py::"


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str  # relative to the chart directory
    old: str
    new: str
    test: str  # pytest node id (or file::function) expected to fail


MUTATIONS = [
    Mutation(
        "gpu-pods-lose-the-gpu-taint-toleration",
        "templates/_pod.tpl",
        "{{- $tol := concat $root.Values.tolerations $p.tolerations }}",
        "{{- $tol := $p.tolerations }}",
        INV + "test_gpu_pods_tolerate_the_gpu_pool_taints",
    ),
    Mutation(
        "gpu-limit-differs-from-request",
        "templates/_pod.tpl",
        "{{- $_ := set $lim .Values.gpu.resourceName $gpus }}",
        "{{- $_ := set $lim .Values.gpu.resourceName (add $gpus 1) }}",
        INV + "test_gpu_requests_equal_limits_and_cover_the_tensor_parallel_size",
    ),
    Mutation(
        "grace-period-shorter-than-the-drain",
        "templates/_pod.tpl",
        "terminationGracePeriodSeconds: {{ $drain.grace }}",
        "terminationGracePeriodSeconds: 10",
        INV + "test_grace_period_covers_prestop_plus_shutdown_timeout_and_spot_fits_its_notice",
    ),
    Mutation(
        "shutdown-timeout-outgrows-the-grace-period",
        "templates/_args.tpl",
        "(list $row.flag (toString $drain.shutdown))",
        "(list $row.flag (toString (add $drain.shutdown 300)))",
        INV + "test_grace_period_covers_prestop_plus_shutdown_timeout_and_spot_fits_its_notice",
    ),
    Mutation(
        "pdb-selects-both-pools",
        "templates/pdb.yaml",
        '"vllm-inference.selectorLabels" (dict "root" $ "component" $component) | nindent 6',
        '"vllm-inference.selectorLabels" (dict "root" $) | nindent 6',
        INV + "test_pdbs_select_exactly_one_pool",
    ),
    Mutation(
        "deployment-selector-includes-the-version",
        "templates/deployment.yaml",
        '"vllm-inference.selectorLabels" (dict "root" $ "component" $component) | nindent 6',
        '"vllm-inference.labels" (dict "root" $ "component" $component) | nindent 6',
        INV + "test_selectors_never_use_version_or_chart_labels",
    ),
    Mutation(
        "kv-cache-threshold-as-a-percentage",
        "templates/scaledobject.yaml",
        '"threshold" $t.kvCacheUsage.threshold',
        '"threshold" (mulf $t.kvCacheUsage.threshold 100)',
        INV + "test_keda_thresholds_are_in_range_and_paired_with_the_right_metric_type",
    ),
    Mutation(
        "keda-resolution-not-checked-for-set-strings",
        "templates/_validate_autoscaling.tpl",
        '{{- define "vllm-inference.kedaResolution" -}}\n0.001',
        '{{- define "vllm-inference.kedaResolution" -}}\n0',
        BAD + "[kvCacheUsage-threshold-string-below-keda-resolution]",
    ),
    Mutation(
        "kv-cache-average-with-averagevalue",
        "templates/scaledobject.yaml",
        '"kv-cache-usage" "metricType" "Value"',
        '"kv-cache-usage" "metricType" "AverageValue"',
        INV + "test_keda_thresholds_are_in_range_and_paired_with_the_right_metric_type",
    ),
    Mutation(
        "kv-cache-query-averages-both-pools",
        "templates/_queries.tpl",
        '{{- printf "%s,%s" $scope $own }}',
        "{{- $scope }}",
        INV + "test_kv_cache_trigger_and_hpa_metric_average_exactly_their_own_pools_pods",
    ),
    Mutation(
        "queries-lose-the-namespace-matcher",
        "templates/_queries.tpl",
        'printf "namespace=%q,app_kubernetes_io_name',
        'printf "ns=%q,app_kubernetes_io_name',
        INV + "test_every_vllm_metric_in_a_query_is_scoped_to_the_release",
    ),
    Mutation(
        "monitor-stops-attaching-the-component-label",
        "templates/_queries.tpl",
        "- app.kubernetes.io/component\n",
        "",
        INV + "test_query_matchers_only_use_labels_the_monitor_attaches",
    ),
    Mutation(
        "alert-on-the-removed-kv-metric",
        "templates/prometheusrule.yaml",
        "(vllm:kv_cache_usage_perc{",
        "(vllm:gpu_cache_usage_perc{",
        INV + "test_no_query_uses_a_removed_or_deprecated_vllm_metric",
    ),
    Mutation(
        "image-defaults-to-latest",
        "templates/_helpers.tpl",
        "(default .Chart.AppVersion .Values.image.tag)",
        '(default "latest" .Values.image.tag)',
        INV + "test_no_image_uses_latest_or_an_implicit_tag",
    ),
    Mutation(
        "service-links-enabled",
        "templates/_pod.tpl",
        "enableServiceLinks: false",
        "enableServiceLinks: true",
        INV + "test_server_pods_disable_service_links_and_mount_a_memory_dev_shm",
    ),
    Mutation(
        "dev-shm-on-disk",
        "templates/_pod.tpl",
        "        medium: Memory\n",
        "",
        INV + "test_server_pods_disable_service_links_and_mount_a_memory_dev_shm",
    ),
    Mutation(
        "probes-off-health",
        "templates/_pod.tpl",
        "httpGet:\n  path: /health\n",
        "httpGet:\n  path: /v1/models\n",
        PROBES,
    ),
    Mutation(
        "every-probe-takes-the-startup-timing",
        "templates/_pod.tpl",
        "(index $v.probes $probe) | nindent 8",
        "$v.probes.startup | nindent 8",
        PROBES,
    ),
    Mutation(
        "prefix-caching-switched-off-when-unset",
        "templates/_args.tpl",
        '{{- if eq (toString $x) "false" }}',
        '{{- if ne (toString $x) "true" }}',
        INV + "test_prefix_caching_flag_follows_the_three_state_value_and_is_absent_when_unset",
    ),
    Mutation(
        "served-model-name-ignores-the-value",
        "templates/_args.tpl",
        "{{- with $x }}{{ $args = concat $args (list $row.flag) . }}{{ end }}",
        '{{- with $x }}{{ $args = concat $args (list $row.flag "model") }}{{ end }}',
        FLAGS,
    ),
    Mutation(
        "args-table-loses-the-max-num-seqs-row",
        "templates/_args.tpl",
        "- {path: vllm.maxNumSeqs, flag: --max-num-seqs, type: int}\n",
        "",
        FLAGS,
    ),
    Mutation(
        "args-table-renders-the-value-it-should-skip",
        "templates/_args.tpl",
        "(and $row.unless (eq (toString $x) $row.unless))",
        "false",
        FLAGS,
    ),
    Mutation(
        "args-table-ignores-when",
        "templates/_args.tpl",
        '{{- $on = eq (toString (include "vllm-inference.valueAt" (dict "root" $root "path" .) '
        '| fromJson).v) "true" }}',
        "{{- $on = true }}",
        T + "test_tpl_semantics.py::test_unset_values_render_no_flag_and_lora_flags_only_with_lora_enabled",
    ),
    Mutation(
        "whole-numbers-rendered-as-floats",
        "templates/_args.tpl",
        "{{ int64 . }}",
        "{{ . }}",
        T + "test_tpl_semantics.py::test_whole_number_flags_render_as_integers_and_fractions_as_written",
    ),
    Mutation(
        "extra-args-may-repeat-table-flags",
        "templates/_args.tpl",
        "{{- $flags = concat $flags (list $row.flag) ($row.aliases | default list) }}",
        "",
        BAD + "[extra-args-dtype-the-size-check-would-not-see]",
    ),
    Mutation(
        "part-of-label-dropped",
        "templates/_helpers.tpl",
        "app.kubernetes.io/part-of: {{ $root.Values.partOf }}\n",
        "",
        INV + "test_every_object_and_pod_template_carries_the_standard_labels",
    ),
    Mutation(
        "spot-and-on-demand-capacity-swapped",
        "templates/_pod.tpl",
        '(ternary "spot" "on-demand" $spot)',
        '(ternary "on-demand" "spot" $spot)',
        INV + "test_spot_and_on_demand_pools_schedule_only_on_their_capacity_type",
    ),
    Mutation(
        "explicit-capacity-labels-ignored",
        "templates/_pod.tpl",
        "merge (deepCopy $p.nodeSelector) $p.capacityLabels $sel",
        "merge (deepCopy $p.nodeSelector) $sel",
        INV + "test_spot_and_on_demand_pools_schedule_only_on_their_capacity_type",
    ),
    Mutation(
        "api-key-from-a-secret-that-is-not-rendered",
        "templates/_pod.tpl",
        'name: {{ include "vllm-inference.apiKeySecretName" $root }}',
        "name: api-key-typo",
        INV + "test_secrets_reach_the_server_by_reference_and_every_reference_resolves",
    ),
    Mutation(
        "network-policy-selects-no-server-pod",
        "templates/networkpolicy.yaml",
        '  podSelector:\n    matchLabels:\n      {{- include "vllm-inference.selectorLabels" (dict "root" $) '
        "| nindent 6 }}",
        "  podSelector:\n    matchLabels:\n      app: nothing",
        INV + "test_network_policy_covers_the_server_pods_and_admits_the_api_port",
    ),
    Mutation(
        "servicemonitor-scrapes-a-missing-port",
        "templates/servicemonitor.yaml",
        "    - port: http\n",
        "    - port: metrics\n",
        INV + "test_service_selects_every_pool_and_monitors_and_routes_point_at_real_ports",
    ),
    Mutation(
        "replicas-fight-the-autoscaler",
        "templates/deployment.yaml",
        '{{- if eq $.Values.autoscaling.mode "none" }}',
        "{{- if true }}",
        INV + "test_autoscaled_deployments_leave_replicas_to_the_autoscaler",
    ),
    Mutation(
        "pods-run-as-a-missing-service-account",
        "templates/_pod.tpl",
        'serviceAccountName: {{ include "vllm-inference.serviceAccountName" $root }}',
        "serviceAccountName: vllm",
        INV + "test_pods_run_as_the_rendered_or_named_service_account",
    ),
    Mutation(
        "pdb-blocks-every-eviction",
        "templates/pdb.yaml",
        "maxUnavailable: {{ $budget.maxUnavailable }}",
        "maxUnavailable: 0",
        INV + "test_pdbs_let_at_least_one_pod_be_evicted_unless_blocking_is_allowed",
    ),
    Mutation(
        "keda-fallback-above-max",
        "templates/scaledobject.yaml",
        "replicas: {{ $.Values.keda.fallback.replicas | int | min $range.max | max $range.min }}",
        "replicas: 1000",
        INV + "test_keda_fallback_replicas_sit_within_the_scaled_object_bounds",
    ),
    Mutation(
        "dev-shm-larger-than-the-memory-limit",
        "templates/_pod.tpl",
        "sizeLimit: {{ $v.shm.sizeLimit }}",
        "sizeLimit: 1Ti",
        INV + "test_memory_backed_volumes_fit_in_the_container_memory_limit",
    ),
    Mutation(
        "deployment-in-a-fixed-namespace",
        "templates/deployment.yaml",
        "namespace: {{ $.Release.Namespace }}",
        "namespace: default",
        INV + "test_objects_are_unique_by_kind_and_name_and_live_in_the_release_namespace",
    ),
    Mutation(
        "topology-spread-over-other-pods",
        "templates/_pod.tpl",
        '{{- include "vllm-inference.selectorLabels" $selector | nindent 10 }}',
        "app: other",
        INV + "test_topology_spread_counts_the_pools_own_pods",
    ),
    Mutation(
        "service-targets-a-missing-port",
        "templates/service.yaml",
        "targetPort: http",
        "targetPort: api",
        INV + "test_service_target_ports_exist_on_every_selected_server_container",
    ),
    Mutation(
        "networkpolicy-renders-when-off",
        "templates/networkpolicy.yaml",
        "{{- if .Values.networkPolicy.enabled }}",
        "{{- if true }}",
        TOGGLE + "[networkpolicy]",
    ),
    Mutation(
        "scaledobject-renders-in-hpa-mode",
        "templates/scaledobject.yaml",
        '{{- if eq .Values.autoscaling.mode "keda" }}',
        '{{- if ne .Values.autoscaling.mode "none" }}',
        TOGGLE + "[keda-scaledobject-per-pool]",
    ),
    Mutation(
        "hpa-renders-in-keda-mode",
        "templates/hpa.yaml",
        '{{- if eq .Values.autoscaling.mode "hpa" }}',
        '{{- if ne .Values.autoscaling.mode "none" }}',
        TOGGLE + "[hpa-per-pool-in-hpa-mode]",
    ),
    Mutation(
        "servicemonitor-renders-for-a-podmonitor",
        "templates/servicemonitor.yaml",
        '{{- if eq .Values.monitoring.monitor.kind "serviceMonitor" }}',
        '{{- if ne .Values.monitoring.monitor.kind "none" }}',
        TOGGLE + "[servicemonitor]",
    ),
    Mutation(
        "removed-key-suggests-the-other-autoscaler",
        "templates/_validate_removed.tpl",
        '(ternary "keda" "hpa" $keda)',
        '(ternary "hpa" "keda" $keda)',
        BAD_OLD + "[autoscaling.mode=keda]",
    ),
    *(
        Mutation(
            f"{concern}-checks-not-collected",
            "templates/_validate.tpl",
            f'"{concern}" ',
            "",
            case,
        )
        for concern, case in {
            "removed": BAD + "[removed-autoscaling-enabled]",
            "image": BAD + "[recipe-latest-tag]",
            "flags": BAD + "[extra-args-duplicate-chart-flag]",
            "pools": BAD + "[no-pool-enabled]",
            "resources": BAD + "[fewer-gpus-than-tensor-parallel]",
            "sizing": T + "test_tpl_sizing.py::test_the_recipe_mistral_fp16_on_t4_is_refused_by_both",
            "cache": BAD + "[rwo-pvc-two-replicas]",
            "drain": BAD + "[grace-shorter-than-drain]",
            "autoscaling": BAD + "[recipe-unscoped-query]",
            "exposure": BAD + "[ingress-without-hosts]",
            "numbers": BAD + "[gpu-memory-utilization-decimal-string-out-of-range]",
            "rollout": BAD + "[progress-deadline-below-the-startup-budget]",
        }.items()
    ),
    Mutation(
        "monitoring-checks-not-collected",
        "templates/_validate.tpl",
        ' "monitoring" "batch" }}',
        ' "batch" }}',
        # the schema refuses a percentage first: the chart's own monitoring checks matter without it
        T + "test_bad_inputs.py::test_the_chart_refuses_mode_typos_even_when_schema_validation_is_skipped",
    ),
    Mutation(
        "sizing-weights-not-divided-by-tensor-parallelism",
        "templates/_validate_sizing.tpl",
        "{{- $weights := divf (index $arch.weightBytes $format $dtype) $tp }}",
        "{{- $weights := index $arch.weightBytes $format $dtype | float64 }}",
        SIZING + "test_chart_refuses_a_model_only_where_vllm_would_not_start",
    ),
    Mutation(
        "sizing-kv-cache-of-one-token-not-one-sequence",
        "templates/_validate_sizing.tpl",
        "$kvElement $maxLen }}",
        "$kvElement }}",
        SIZING + "test_an_fp8_kv_cache_in_extra_args_halves_the_kv_cache_the_chart_reserves",
    ),
    Mutation(
        "sizing-misses-the-two-argument-kv-cache-dtype",
        "templates/_validate_sizing.tpl",
        "{{ $kvDtype = toString (index $args (add1 $i)) }}",
        "",
        SIZING + "test_an_fp8_kv_cache_in_extra_args_halves_the_kv_cache_the_chart_reserves[flag-value]",
    ),
    Mutation(
        "batch-alert-ignores-the-gpus-default-max-num-seqs",
        "templates/_helpers.tpl",
        '{{- dig .Values.gpu.type "maxNumSeqs" $s.defaults.maxNumSeqs $s.gpus | int }}',
        "{{- $s.defaults.maxNumSeqs | int }}",
        T + "test_tpl_semantics.py::"
        "test_the_batch_alert_uses_vllms_default_max_num_seqs_for_the_gpu_type_from_the_catalogue",
    ),
    Mutation(
        "helm-test-keeps-the-helper-import",
        "templates/_tests.tpl",
        "(?m)^from helmtest import",
        "(?m)^from elsewhere import",
        T + "test_tpl_helm_test_scripts.py::test_rendered_helm_test_passes_against_the_simulator",
    ),
    # Issue 15: what a production GPU review found.
    Mutation(
        "server-loses-its-user-name",
        "templates/_pod.tpl",
        '{{- $env := dict "USER" $v.home.userName "LOGNAME" $v.home.userName',
        '{{- $env := dict "USER" "" "LOGNAME" ""',
        INV + "test_server_names_its_user_and_writes_every_cache_on_a_writable_volume",
    ),
    Mutation(
        "vllm-cache-on-the-read-only-root",
        "templates/_pod.tpl",
        '"VLLM_CACHE_ROOT" (printf "%s/vllm" $compile)',
        '"VLLM_CACHE_ROOT" "/opt/vllm-cache"',
        INV + "test_server_names_its_user_and_writes_every_cache_on_a_writable_volume",
    ),
    Mutation(
        "home-volume-mounted-elsewhere",
        "templates/_pod.tpl",
        "mountPath: {{ $v.home.mountPath }}",
        "mountPath: /var/lib/vllm-home",
        T + "test_tpl_restricted_runtime.py::"
        "test_the_rendered_pod_serves_as_a_uid_without_a_passwd_entry_on_a_read_only_root",
    ),
    Mutation(
        "no-ephemeral-storage-request",
        "templates/_pod.tpl",
        '{{- if not (hasKey $req "ephemeral-storage") }}'
        '{{ $_ := set $req "ephemeral-storage" $storage }}{{ end }}',
        "",
        INV + "test_ephemeral_storage_request_and_limit_cover_the_disk_backed_empty_dirs",
    ),
    Mutation(
        "api-key-checksum-on-the-pods",
        "templates/_pod.tpl",
        "    kubectl.kubernetes.io/default-container: vllm\n",
        "    kubectl.kubernetes.io/default-container: vllm\n"
        "    checksum/api-key: {{ $v.auth.apiKey | toString | sha256sum | trunc 16 }}\n",
        INV + "test_no_pod_annotation_is_derived_from_the_api_key",
    ),
    Mutation(
        "ingress-publishes-everything",
        "templates/ingress.yaml",
        "          - path: {{ .path }}\n            pathType: {{ .pathType }}",
        "          - path: /\n            pathType: Prefix",
        INV + "test_ingress_and_http_route_publish_no_path_outside_the_api_key",
    ),
    Mutation(
        "exposure-check-misses-a-covering-prefix",
        "templates/_validate_exposure.tpl",
        '{{- $covers := and (eq $p.pathType "Prefix") (or (eq $path "/") (hasPrefix $prefix $closed)) }}',
        "{{- $covers := false }}",
        BAD + "[exposure-prefix-covers-the-lora-admin-endpoints]",
    ),
    Mutation(
        "network-policy-admits-the-whole-monitoring-namespace",
        "templates/networkpolicy.yaml",
        "          {{- with $n.monitoring.podSelector }}",
        "          {{- with false }}",
        INV + "test_network_policy_admits_the_scrapers_pods_not_their_whole_namespace",
    ),
    Mutation(
        "keda-reads-an-absent-series-as-zero",
        "templates/scaledobject.yaml",
        'ignoreNullValues: "false"',
        'ignoreNullValues: "true"',
        INV + "test_every_keda_trigger_reads_an_absent_series_as_an_error",
    ),
    Mutation(
        "pool-at-zero-errors-instead-of-reading-zero",
        "templates/_queries.tpl",
        '{{- printf "(%s) or on() (0 * (%s == 0))" .query (include "vllm-inference.availablePods" .) }}',
        "{{- .query }}",
        T
        + "test_tpl_keda_hardening.py::test_the_rendered_kv_query_is_empty_exactly_when_the_scrape_is_broken",
    ),
    Mutation(
        "pool-at-zero-gets-no-wake-trigger",
        "templates/scaledobject.yaml",
        "{{- if and $t.wake.enabled $zero }}",
        "{{- if false }}",
        INV + "test_a_pool_that_scales_to_zero_has_a_trigger_that_exists_at_zero",
    ),
    Mutation(
        "scale-to-zero-wakes-on-one-queued-request",
        "templates/scaledobject.yaml",
        '"activation" (ternary (toString $t.requestsWaiting.activationThreshold) "" $zero)',
        '"activation" ""',
        INV + "test_a_pool_that_scales_to_zero_has_a_trigger_that_exists_at_zero",
    ),
    Mutation(
        "unwakeable-pool-at-zero-accepted",
        "templates/_validate_autoscaling.tpl",
        "{{- if not $warm }}",
        "{{- if false }}",
        BAD + "[scale-to-zero-with-only-vllm-triggers]",
    ),
    Mutation(
        "on-demand-keeps-no-failover-headroom",
        "templates/_helpers.tpl",
        '(include "vllm-inference.onDemandHeadroom" (dict "root" $root "spotMax" $spotPoolMax))',
        "0",
        T + "test_tpl_semantics.py::test_on_demand_headroom_lets_the_on_demand_pool_take_over_the_spot_share",
    ),
    Mutation(
        "surge-accepted-without-spare-gpus",
        "templates/_validate_rollout.tpl",
        "(not $v.rollout.spareGpuCapacity)",
        "false",
        BAD + "[surge-without-spare-gpus]",
    ),
    Mutation(
        "progress-deadline-left-at-the-default",
        "templates/deployment.yaml",
        '  progressDeadlineSeconds: {{ include "vllm-inference.progressDeadline" $ }}\n',
        "",
        INV + "test_rollouts_outlast_the_startup_budget_and_never_surge_without_spare_gpus",
    ),
    Mutation(
        "aws-spot-budget-of-one",
        "templates/_helpers.tpl",
        '{{- $max = ternary "100%" 1 (and (eq .pool "spot")',
        '{{- $max = ternary 1 1 (and (eq .pool "spot")',
        T + "test_tpl_placement_and_rollout.py::"
        "test_the_spot_budget_follows_whether_the_providers_reclaims_honour_pdbs",
    ),
    Mutation(
        "prestop-ignores-the-load-balancer",
        "templates/_validate_drain.tpl",
        "{{- if lt ($d.preStop | int) $lb }}",
        "{{- if false }}",
        BAD + "[prestop-shorter-than-the-load-balancer-deregistration]",
    ),
    Mutation(
        "gpu-type-steers-nothing",
        "templates/_pod.tpl",
        "{{- if $g.values }}"
        '{{ $exprs = append $exprs (dict "key" $g.key "operator" "In" "values" $g.values) }}{{ end }}',
        "",
        INV + "test_gpu_pods_require_the_catalogue_label_of_their_gpu_type",
    ),
    Mutation(
        "nvidia-gpu-taint-not-tolerated",
        "templates/_pod.tpl",
        '{{- $tol = append $tol (dict "key" "nvidia.com/gpu" "operator" "Exists" "effect" "NoSchedule") }}',
        "",
        INV + "test_gpu_pods_tolerate_the_gpu_pool_taints",
    ),
    Mutation(
        "spot-pool-without-a-provider-accepted",
        "templates/_validate_pools.tpl",
        '{{- else if and (eq $provider "none") (eq $pool "spot") (not $own) }}',
        "{{- else if false }}",
        BAD + "[spot-pool-without-a-capacity-provider]",
    ),
    Mutation(
        "flags-rendered-whatever-the-vllm-version",
        "templates/_validate_flags.tpl",
        '(not (include "vllm-inference.vllmAtLeast" (dict "root" $ "since" $row.since)))',
        "false",
        BAD + "[shutdown-timeout-on-vllm-0.17]",
    ),
    Mutation(
        "extra-args-underscore-spelling-slips-through",
        "templates/_args.tpl",
        '(regexReplaceAll "^-+" $name "" | replace "_" "-")',
        '(regexReplaceAll "^-+" $name "")',
        BAD + "[extra-args-underscore-spelling]",
    ),
    Mutation(
        "model-name-null-reaches-the-templates",
        "templates/_validate_flags.tpl",
        '{{- if or (kindIs "invalid" $v.model.name) (eq (toString $v.model.name) "") }}',
        "{{- if false }}",
        T + "test_bad_inputs.py::test_model_name_null_gets_the_charts_message_not_a_template_error",
    ),
    Mutation(
        "idle-gpus-accepted",
        "templates/_validate_resources.tpl",
        "{{- if and (gt $gpus $used) (not $v.gpu.allowUnusedGpus) }}",
        "{{- if false }}",
        BAD + "[gpus-the-server-never-uses]",
    ),
    Mutation(
        "replicas-under-an-autoscaler-accepted",
        "templates/_validate_pools.tpl",
        '{{- if and (ne $v.autoscaling.mode "none") (not (kindIs "invalid" $p.replicas)) }}',
        "{{- if false }}",
        BAD + "[replicas-under-an-autoscaler]",
    ),
    Mutation(
        "startup-budget-below-the-load-floor-accepted",
        "templates/_validate_sizing.tpl",
        "{{- if lt $budget $floor }}",
        "{{- if false }}",
        BAD + "[startup-budget-below-the-load-time-floor]",
    ),
    Mutation(
        "no-ready-replicas-pages-during-a-first-load",
        "templates/prometheusrule.yaml",
        ' unless on(namespace) (count by (namespace) ((time() - kube_pod_created{ {{- $ksm -}} ,pod=~"'
        '{{ include "vllm-inference.releasePodPattern" . }}"})'
        ' < {{ include "vllm-inference.progressDeadline" . }}) > 0)',
        "",
        T + "test_alerts_promtool.py::test_alert_case_passes_promtool"
        "[VLLMNoReadyReplicas-silent-during-a-first-model-load]",
    ),
    Mutation(
        "engine-stalled-counts-generated-tokens-only",
        "templates/prometheusrule.yaml",
        " + sum by (namespace, pod) (rate(vllm:prompt_tokens_total{ {{- $m -}} }[5m]))",
        "",
        T + "test_alerts_promtool.py::test_alert_case_passes_promtool"
        "[VLLMEngineStalled-silent-for-an-embedding-model-that-only-reads-prompts]",
    ),
    Mutation(
        "queue-stuck-alert-fires-below-the-maximum",
        "templates/prometheusrule.yaml",
        ',deployment="{{ $name }}"}) >= {{ $max }}',
        ',deployment="{{ $name }}"}) >= 0',
        T + "test_alerts_promtool.py::test_alert_case_passes_promtool"
        "[VLLMQueueStuckAtMaxReplicas-silent-below-the-maximum]",
    ),
    Mutation(
        "amazon-managed-prometheus-loses-its-region",
        "templates/_helpers.tpl",
        "awsRegion: {{ $a.podIdentity.awsRegion | quote }}",
        "region: {{ $a.podIdentity.awsRegion | quote }}",
        T + "test_tpl_keda_hardening.py::"
        "test_amazon_managed_prometheus_signs_with_the_operators_identity_for_the_region",
    ),
    Mutation(
        "pod-name-scope-matches-other-releases",
        "templates/_queries.tpl",
        '{{- printf "%s-(%s)-[a-z0-9]+-[a-z0-9]+" (include "vllm-inference.fullname" .) (join "|" $slugs) }}',
        '{{- printf ".*-(%s)-[a-z0-9]+-[a-z0-9]+" (join "|" $slugs) }}',
        INV + "test_every_vllm_metric_in_a_query_is_scoped_to_the_release",
    ),
    Mutation(
        "helm-test-pod-may-escalate",
        "templates/_tests.tpl",
        "        allowPrivilegeEscalation: false\n",
        "",
        INV + "test_every_pod_passes_the_restricted_pod_security_standard",
    ),
    Mutation(
        "deployment-field-misspelt",
        "templates/deployment.yaml",
        "revisionHistoryLimit: 3",
        "revisionHistoryLimits: 3",
        MATRIX,
    ),
    Mutation(
        "scaledobject-field-misspelt-against-the-crd",
        "templates/scaledobject.yaml",
        "pollingInterval:",
        "pollInterval:",
        MATRIX,
    ),
    Mutation(
        "dev-shm-size-not-a-quantity",
        "templates/_pod.tpl",
        "sizeLimit: {{ $v.shm.sizeLimit }}",
        "sizeLimit: 8GB",
        MATRIX,
    ),
    # Batch mode.
    Mutation(
        "batch-reclaims-count-as-failures",
        "templates/_batch.tpl",
        "    - action: Ignore\n      onPodConditions:",
        "    - action: Count\n      onPodConditions:",
        BATCH + "test_disruptions_are_ignored_and_configuration_errors_fail_the_job_at_once",
    ),
    Mutation(
        "batch-bad-arguments-retried-forever",
        "templates/_batch.tpl",
        "    - action: FailJob",
        "    - action: Count",
        BATCH + "test_disruptions_are_ignored_and_configuration_errors_fail_the_job_at_once",
    ),
    Mutation(
        "batch-replacement-before-the-old-pod-is-gone",
        "templates/_batch.tpl",
        "podReplacementPolicy: Failed",
        "podReplacementPolicy: TerminatingOrFailed",
        BATCH + "test_disruptions_are_ignored_and_configuration_errors_fail_the_job_at_once",
    ),
    Mutation(
        "batch-pods-leave-their-pool",
        "templates/_batch.tpl",
        '(dict "root" . "pool" $b.pool "batch" true)',
        '(dict "root" . "pool" "onDemand" "batch" true)',
        INV + "test_spot_and_on_demand_pools_schedule_only_on_their_capacity_type",
    ),
    Mutation(
        "batch-shards-all-read-the-whole-input",
        "templates/_batch.tpl",
        '"--shards" (toString $v.batch.shards)',
        '"--shards" "1"',
        BATCH + "test_the_rendered_shards_run_and_answer_every_request_once",
    ),
    Mutation(
        "batch-run-batch-gets-the-server-port",
        "templates/_args.tpl",
        "(and $.batch $row.server)",
        "false",
        BATCH + "test_the_rendered_shards_run_and_answer_every_request_once",
    ),
    Mutation(
        "batch-pods-restart-in-place",
        "templates/_pod.tpl",
        "  restartPolicy: Never\n",
        "",
        BATCH + "test_the_job_is_indexed_with_one_completion_per_shard",
    ),
    Mutation(
        "batch-pods-become-service-endpoints",
        "templates/service.yaml",
        "{{- if not .Values.batch.enabled }}",
        "{{- if true }}",
        TOGGLE,
    ),
    Mutation(
        "batch-next-to-a-server-accepted",
        "templates/_validate_batch.tpl",
        '{{- range $pool := include "vllm-inference.poolList" . | fromJsonArray }}',
        "{{- range $pool := list }}",
        BAD,
    ),
    Mutation(
        "batch-output-may-leave-the-volume",
        "templates/_validate_batch.tpl",
        '(has ".." (splitList "/" (toString $path)))',
        "false",
        BAD,
    ),
    Mutation(
        "batch-checks-not-collected",
        "templates/_validate.tpl",
        ' "monitoring" "batch" }}',
        ' "monitoring" }}',
        T + "test_bad_inputs.py::test_bad_batch_values_are_refused_without_the_schema",
    ),
    Mutation(
        "batch-cron-runs-share-one-output",
        "templates/_batch.tpl",
        '{{ $out = printf "%s/$(BATCH_JOB_NAME)" $out }}',
        "",
        BATCH + "test_a_schedule_renders_a_cronjob_whose_runs_write_under_their_job_name",
    ),
]


def run(m: Mutation, workdir: Path) -> tuple[str, float]:
    """'caught', 'MISSED' or 'stale', and the seconds it took."""
    chart = workdir / m.name / "vllm-inference"
    shutil.copytree(CHART_DIR, chart)
    target = chart / m.file
    text = target.read_text() if target.is_file() else ""
    if m.old not in text:
        return "stale", 0.0
    target.write_text(text.replace(m.old, m.new))
    env = {
        **os.environ,
        "VLLM_INFERENCE_CHART": str(chart),
        "CHART_RENDER_CACHE": str(chart.parent / "cache"),
        STOP_AT_FIRST_FAILURE_ENV: "1",
    }
    # one sweep is one test (no gain from workers); the parametrized matrix stops at its first failure
    workers = ["-x", "-n", "2"] if "::" not in m.test or m.test == MATRIX else ["-n", "0"]
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *workers, m.test]
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    summary = (proc.stdout.strip().splitlines() or [""])[-1]
    # caught = the test ran and failed (xdist reports -x as "interrupted", exit 2); an error or an empty
    # collection proves nothing
    failed = re.search(r"\b\d+ failed\b", summary) and not re.search(r"\berrors?\b", summary)
    return ("caught" if failed else "MISSED"), time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-k", default="", help="only mutations whose name contains this")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if args.k in m.name]
    bad = 0
    with tempfile.TemporaryDirectory(prefix="chart-mutations-") as tmp:
        for m in chosen:
            verdict, seconds = run(m, Path(tmp))
            bad += verdict != "caught"
            print(f"{verdict:7} {seconds:6.1f}s  {m.name}  ->  {m.test.removeprefix(T)}", flush=True)
    print(f"{len(chosen) - bad}/{len(chosen)} mutations caught")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
