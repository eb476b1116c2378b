"""KEDA's 3-decimal resolution (it turns every threshold and metric value into a quantity with "%.3f"):
a KV usage that rounds below it derives no KV threshold and the snippet turns that trigger off, the
comparison reads the gauges as KEDA does, `--compare` refuses what the chart refuses, and the planner and
the chart agree on the figure."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from plan_paths import CHART

from vllm_plan.ramp import Ramp, Step
from vllm_plan.thresholds import (
    KEDA_RESOLUTION,
    Triggers,
    asks_for_more,
    derive,
    parse_triggers,
    values,
    values_snippet,
)
from vllm_plan.traffic import Slo

SLO = Slo(time_to_first_token_s=1.0, inter_token_latency_s=0.05)


def _step(kv: float, waiting: float = 0.0) -> Step:
    return Step(
        load=5.0, requests=100, failed=0, arrived_per_s=5.0, finished_per_s=5.0, output_tokens_per_s=500.0,
        ttft_s=0.2, itl_s=0.02, mean_running=10.0, max_running=12.0, mean_waiting=waiting,
        max_waiting=waiting * 2, mean_kv_usage=kv, max_kv_usage=kv * 1.2,
    )  # fmt: skip


def _one_step_ramp(kv: float) -> Ramp:
    ramp = Ramp("rate", SLO)
    ramp.steps.append(_step(kv, waiting=3.2))
    ramp.missed.append([])
    return ramp


@pytest.mark.parametrize("usage", [0.00042, 0.00049, 0.00001, 0.0])
def test_a_kv_usage_below_kedas_resolution_derives_no_kv_threshold_and_turns_the_trigger_off(
    usage: float,
) -> None:
    """The autoscaling bench's defect: 0.00042 rendered as a threshold KEDA made 0, and the pool never
    scaled, not even on its queue trigger."""
    derived = derive(_one_step_ramp(usage), 0.8)
    assert derived is not None
    assert derived.kv_cache_usage_threshold is None
    assert derived.to_dict()["kv_cache_usage_threshold"] is None  # the JSON key stays, null
    triggers = values(derived)["autoscaling"]["triggers"]
    assert triggers["kvCacheUsage"] == {"enabled": False}
    assert triggers["requestsWaiting"] == {"enabled": True, "threshold": derived.requests_waiting_threshold}
    assert derived.requests_waiting_threshold >= 1


def test_the_snippet_header_says_in_one_line_why_the_kv_trigger_is_off() -> None:
    derived = derive(_one_step_ramp(0.00042), 0.8)
    assert derived is not None
    snippet = values_snippet(derived, "vllm-plan capacity: a header")
    reason = [line for line in snippet.splitlines() if "KEDA" in line]
    assert reason == [
        "# KV-cache usage at 80% of the knee is 0.034 % (0.000336): below KEDA's 0.001 resolution, so the "
        "cache is not what saturates this replica; the KV trigger is off and the queue trigger scales it"
    ]
    assert yaml.safe_load(snippet) == values(derived)


def test_a_kv_usage_at_kedas_resolution_keeps_the_trigger_with_no_reason_given() -> None:
    derived = derive(_one_step_ramp(0.0123), 1.0)
    # 0.0123 / 1.1 (the HPA's tolerance) = 0.0112: two significant figures
    assert derived is not None and derived.kv_cache_usage_threshold == 0.011
    assert derived.kv_trigger_off() is None
    assert values(derived)["autoscaling"]["triggers"]["kvCacheUsage"] == {"enabled": True, "threshold": 0.011}
    assert "KEDA" not in values_snippet(derived, "header")


def test_an_absent_kv_trigger_never_asks_and_the_queue_still_does() -> None:
    queue_only = Triggers("derived", None, 1.0)
    assert asks_for_more(_step(0.9, waiting=2.5), queue_only)
    assert not asks_for_more(_step(0.9, waiting=0.5), queue_only)
    assert not asks_for_more(_step(0.9, waiting=9.0), Triggers("none", None, None))


@pytest.mark.parametrize("usage, asks", [(0.0014, False), (0.0016, True)])
def test_the_comparison_reads_the_kv_gauge_to_kedas_three_decimals(usage: float, asks: bool) -> None:
    """KEDA hands the HPA 0.0014 as 0.001 (not above a 0.001 target: one replica) and 0.0016 as 0.002."""
    assert asks_for_more(_step(usage), Triggers("fine", 0.001, None)) is asks


@pytest.mark.parametrize("text", ["copied=0.00042,4", "copied=0.7,0.0004"])
def test_a_compared_threshold_below_kedas_resolution_is_refused_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match=r"at least 0\.001 \(KEDA rounds thresholds to 3 decimals"):
        parse_triggers(text)
    assert parse_triggers("fine=0.001,0.001") == Triggers("fine", 0.001, 0.001)


def test_the_chart_refuses_thresholds_below_the_planners_keda_resolution() -> None:
    """One figure, two languages: the schema's minimum of every KEDA/HPA threshold, the chart's own check
    (for --set strings) and the planner's constant."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    triggers = schema["properties"]["autoscaling"]["properties"]["triggers"]["properties"]
    minima = {
        "kvCacheUsage.threshold": triggers["kvCacheUsage"]["properties"]["threshold"]["minimum"],
        "requestsWaiting.threshold": triggers["requestsWaiting"]["properties"]["threshold"]["minimum"],
        "wake.threshold": triggers["wake"]["properties"]["threshold"]["minimum"],
        **{
            f"{name}.activationThreshold": triggers[name]["properties"]["activationThreshold"]["anyOf"]
            for name in ("requestsWaiting", "wake")
        },
    }
    assert minima == {
        "kvCacheUsage.threshold": KEDA_RESOLUTION,
        "requestsWaiting.threshold": KEDA_RESOLUTION,
        "wake.threshold": KEDA_RESOLUTION,
        "requestsWaiting.activationThreshold": [{"const": 0}, {"minimum": KEDA_RESOLUTION}],
        "wake.activationThreshold": [{"const": 0}, {"minimum": KEDA_RESOLUTION}],
    }
    helper = (CHART / "templates" / "_validate_autoscaling.tpl").read_text()
    body = re.search(r'define "vllm-inference\.kedaResolution" -}}\s*([0-9.]+)\s*{{-', helper)
    assert body is not None and float(body.group(1)) == KEDA_RESOLUTION
