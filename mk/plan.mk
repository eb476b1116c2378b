# Sizing and cost planner (src/vllm_plan, docs/planner.md).
.PHONY: plan-report

PLAN_OUT ?= build/plan
PLAN_CLOUD ?= aws
PLAN_TRAFFIC ?= src/vllm_plan/data/traffic-example.yaml
PLAN_PRICES ?= src/vllm_plan/data/prices.yaml
# The chart whose defaults a values file in PLAN_ARGS is read over (a directory or a packaged .tgz).
PLAN_CHART ?= $(CHART)
# The deployment to plan: any `vllm-plan` deployment flags, e.g. PLAN_ARGS="--values values/local-sim.yaml".
PLAN_ARGS ?= --model TheBloke/Mistral-7B-Instruct-v0.2-AWQ --gpu T4 --max-model-len 4096 --dtype half
PLAN_MIX ?= 0.5
PLAN_RECLAIM_RATE ?= 0.05

plan-report: ## Cost report (txt, json, png, values snippet) into build/plan/ (PLAN_ARGS, PLAN_CHART, PLAN_CLOUD...)
	@vllm-plan cost --chart $(PLAN_CHART) --traffic $(PLAN_TRAFFIC) --prices $(PLAN_PRICES) --cloud $(PLAN_CLOUD) \
		$(PLAN_ARGS) \
		--mix $(PLAN_MIX) --spot-reclaim-rate $(PLAN_RECLAIM_RATE) --out-dir $(PLAN_OUT)
	@echo "written: $$(ls $(PLAN_OUT) | sed 's|^|$(PLAN_OUT)/|' | tr '\n' ' ')"

# `vllm-plan capacity` on the local cluster (docs/capacity.md): under the host's e2e lock, cluster up, one
# simulator replica of the autoscaling bench's deployment installed, the ramp and its replay
# (hack/cluster/capacity.sh), cluster down. The report, the PNG and the values snippet land in
# build/reports/capacity/. CAPACITY_ARGS and CAPACITY_OUT pass through to the script.
.PHONY: capacity
capacity: tools ## vllm-plan capacity against one simulator replica on the local cluster (report, PNG, values snippet in build/reports/capacity/)
	@mkdir -p /run/lock; flock -w 3600 /run/lock/vllm-inference-e2e.lock bash -c '\
	  bash hack/cluster/up.sh || { bash hack/cluster/down.sh; exit 1; }; \
	  rc=0; bash hack/cluster/capacity.sh || rc=$$?; bash hack/cluster/down.sh; exit $$rc'
