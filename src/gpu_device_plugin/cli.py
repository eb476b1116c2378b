"""Command line of the fake GPU device plugin (`python -m gpu_device_plugin`)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from gpu_device_plugin.devices import GPU_TYPES, FakeGPUs
from gpu_device_plugin.server import run
from vllm_model.catalog import DEFAULT_GPU


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    # Environment defaults let the DaemonSet configure the plugin from a ConfigMap.
    p = argparse.ArgumentParser(prog="gpu_device_plugin", description=__doc__)
    p.add_argument("--count", type=int, default=int(os.environ.get("FAKE_GPU_COUNT", "2")))
    p.add_argument("--gpu-type", default=os.environ.get("FAKE_GPU_TYPE", DEFAULT_GPU), choices=GPU_TYPES)
    p.add_argument("--resource-name", default=os.environ.get("FAKE_GPU_RESOURCE", "nvidia.com/gpu"))
    p.add_argument("--kubelet-dir", type=Path, default=Path("/var/lib/kubelet/device-plugins"))
    p.add_argument("--node-name", default=os.environ.get("NODE_NAME", socket.gethostname()))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        gpus = FakeGPUs(count=args.count, gpu_type=args.gpu_type, node=args.node_name)
    except ValueError as err:
        print(f"gpu_device_plugin: error: {err}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run(gpus, args.kubelet_dir, args.resource_name, stop)
    return 0
