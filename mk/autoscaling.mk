# Autoscaling observed (docs/autoscaling.md): the local cluster's add-ons (KEDA, prometheus-operator,
# Prometheus, kube-state-metrics: hack/cluster/addons.sh) and the side-by-side bench on them.
.PHONY: cluster-addons bench-autoscaling
BENCH_TARGETS += bench-autoscaling

# Room for the bench's four releases (up to 3 replicas each) on the on-demand real node.
AUTOSCALING_BENCH_GPUS ?= 12

cluster-addons: ## Build the autoscaling add-ons (KEDA, prometheus-operator, Prometheus, kube-state-metrics, HAProxy) from registries; install them on a running local cluster
	@bash hack/cluster/build-addons.sh
	@bash hack/build-images.sh keda prometheus_operator prometheus kube_state_metrics haproxy
	@for n in $$(bash -c 'source hack/cluster/env.sh; real_node_names'); do bash hack/cluster/import-images.sh $$n; done
	@bash hack/cluster/addons.sh

# Under the host's e2e lock: cluster up (its GPUs raised for four releases), the bench, cluster down (kept
# status of the bench). ARGS passes flags to the bench (e.g. ARGS="--step-s 90").
bench-autoscaling: tools ## KEDA side by side on the local cluster: the chart's defaults, the recipe's ScaledObject, a queue-only peer, the thresholds vllm-plan capacity derives (table, reaction times, PNG under build/reports/)
	@mkdir -p /run/lock; flock -w 3600 /run/lock/vllm-inference-e2e.lock bash -c '\
	  VLLM_LOCAL_GPUS=$(AUTOSCALING_BENCH_GPUS) bash hack/cluster/up.sh || { bash hack/cluster/down.sh; exit 1; }; \
	  rc=0; $(PY) benchmarks/autoscaling_bench.py $(ARGS) || rc=$$?; bash hack/cluster/down.sh; exit $$rc'
