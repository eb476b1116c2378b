"""The kind DaemonSet of the fake GPU device plugin: valid for every supported minor, and configured in a way
the plugin's own command line accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chart_harness.validate import errors
from gpu_device_plugin.cli import parse_args

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "deploy" / "fake-gpu-device-plugin" / "daemonset.yaml"
MINORS = next(
    line.split("=", 1)[1].strip('"').split()
    for line in (ROOT / "hack" / "versions.env").read_text().splitlines()
    if line.startswith("KUBE_MINORS=")
)
DOCS = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]


@pytest.mark.parametrize("minor", MINORS)
def test_every_object_is_valid_for_the_minor(minor: str) -> None:
    assert [(d["kind"], errors(d, minor)) for d in DOCS] == [(d["kind"], []) for d in DOCS]


def test_the_configmap_and_args_configure_the_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    config = next(d for d in DOCS if d["kind"] == "ConfigMap")["data"]
    daemonset = next(d for d in DOCS if d["kind"] == "DaemonSet")
    container = daemonset["spec"]["template"]["spec"]["containers"][0]
    assert (
        container["envFrom"][0]["configMapRef"]["name"]
        == next(d for d in DOCS if d["kind"] == "ConfigMap")["metadata"]["name"]
    )
    for key, value in config.items():
        monkeypatch.setenv(key, value)
    args = parse_args(container["args"])
    assert (args.count, args.gpu_type) == (int(config["FAKE_GPU_COUNT"]), config["FAKE_GPU_TYPE"])
    mounted = {m["mountPath"] for m in container["volumeMounts"]}
    assert str(args.kubelet_dir) in mounted
