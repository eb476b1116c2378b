"""Zero-loss rollout: under steady streaming load through the Service (>= 300 requests spanning it), a helm
upgrade that changes the pod template of both pools loses no request; the same rollout with the drain
switched off (no preStop, shutdown timeout 0) loses some. Both figures are printed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .conftest import Figure
from .release import E2E_VALUES, Release
from .traffic import STREAMING, start_load

RATE, REQUESTS = 10, 360  # 36 s of load; the upgrade starts 6 s in


@pytest.mark.parametrize(
    "drain, values",
    [("drain on", ()), ("drain off", (E2E_VALUES / "drain-off.yaml",))],
    ids=["drain-on", "drain-off"],
)
def test_a_rollout_under_load_loses_no_request_only_with_the_drain(
    node_client: Path, release: Release, figure: Figure, drain: str, values: tuple
) -> None:
    values = (E2E_VALUES / "rollout-surge.yaml", *values)
    release.install(*values)
    release.wait_serving({"onDemand": 1, "spot": 1})
    old = {p.name for p in release.pods()}
    rate = ("--rate", str(RATE), "--requests", str(REQUESTS), "--duration", str(REQUESTS / RATE))
    load = start_load(release.service_url, *STREAMING, *rate)
    time.sleep(6)
    upgrade_at = load.offset(time.monotonic())
    release.roll(*values)
    done_at = max(load.offset(release.wait_rolled_out(pool)) for pool in ("onDemand", "spot"))

    def old_pods_gone() -> bool:
        return not old & {p.name for p in release.pods()}

    deadline = time.monotonic() + 120
    while not old_pods_gone() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert old_pods_gone(), f"old pods still there: {old & {p.name for p in release.pods()}}"
    gone_at = load.offset(time.monotonic())
    report = load.result()
    figure(f"{drain}: {report['summary']}")
    figure(
        f"{drain}: upgrade at {upgrade_at:.1f} s, rolled out {done_at:.1f} s, old pods gone {gone_at:.1f} s"
    )

    assert report["sent"] >= 300
    starts = [r["start_s"] for r in report["requests"]]
    assert min(starts) < upgrade_at and max(starts) > gone_at, "the load does not span the rollout"
    if drain == "drain on":
        assert report["lost"] == 0, report["errors"]
    else:
        assert report["lost"] > 0, "the rollout without a drain lost nothing: the scenario proves nothing"
