"""The simulated devices and what a container that is allocated some of them receives."""

from __future__ import annotations

from dataclasses import dataclass

from vllm_model.catalog import load_gpus

# The cards the simulator knows (VLLM_SIM_GPU values), from the one catalogue.
GPU_TYPES = tuple(load_gpus())


@dataclass(frozen=True)
class FakeGPUs:
    """N identical simulated GPUs of one type on one node."""

    count: int
    gpu_type: str
    node: str = "local"

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"--count must be at least 1, got {self.count}")
        if self.gpu_type not in GPU_TYPES:
            raise ValueError(f"--gpu-type {self.gpu_type!r} is not one of {', '.join(GPU_TYPES)}")

    def device_ids(self) -> list[str]:
        # Shaped like NVIDIA's GPU-<uuid> ids, stable per node and index, so they read well in pod envs.
        slug = self.gpu_type.lower().replace("-", "")
        return [f"GPU-fake-{slug}-{self.node}-{i}" for i in range(self.count)]

    def container_env(self, allocated: list[str]) -> dict[str, str]:
        """The environment of a container allocated the given device ids (refuses unknown ids)."""
        known = set(self.device_ids())
        unknown = [d for d in allocated if d not in known]
        if unknown:
            raise ValueError(f"unknown device ids {unknown}")
        ids = ",".join(sorted(allocated))
        return {
            "NVIDIA_VISIBLE_DEVICES": ids,
            "FAKE_GPU_DEVICE_IDS": ids,
            "FAKE_GPU_COUNT": str(len(allocated)),
            "VLLM_SIM_GPU": self.gpu_type,
        }
