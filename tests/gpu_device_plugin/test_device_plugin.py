"""The fake GPU device plugin against a real gRPC kubelet Registration service on a unix socket."""

from __future__ import annotations

import threading
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from gpu_device_plugin._proto import deviceplugin_pb2 as pb
from gpu_device_plugin._proto import deviceplugin_pb2_grpc as pb_grpc
from gpu_device_plugin.devices import FakeGPUs
from gpu_device_plugin.server import run


class Kubelet(pb_grpc.RegistrationServicer):
    """The kubelet's side of registration: records each request."""

    def __init__(self) -> None:
        self.requests: list[pb.RegisterRequest] = []
        self.registered = threading.Event()

    def Register(self, request: pb.RegisterRequest, context: grpc.ServicerContext) -> pb.Empty:
        self.requests.append(request)
        self.registered.set()
        return pb.Empty()


@pytest.fixture
def plugin(tmp_path: Path):
    # unix socket paths are limited to ~108 bytes: keep the directory short.
    kubelet = Kubelet()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    pb_grpc.add_RegistrationServicer_to_server(kubelet, server)
    server.add_insecure_port(f"unix://{tmp_path}/kubelet.sock")
    server.start()
    stop = threading.Event()
    gpus = FakeGPUs(count=3, gpu_type="L4", node="n1")
    thread = threading.Thread(target=run, args=(gpus, tmp_path, "nvidia.com/gpu", stop), daemon=True)
    thread.start()
    assert kubelet.registered.wait(10), "the plugin never registered"
    request = kubelet.requests[0]
    channel = grpc.insecure_channel(f"unix://{tmp_path}/{request.endpoint}")
    yield kubelet, pb_grpc.DevicePluginStub(channel), tmp_path
    channel.close()
    stop.set()
    thread.join(10)
    server.stop(None)


def test_registers_with_the_kubelet_as_v1beta1_nvidia_gpu(plugin) -> None:
    kubelet, _, tmp_path = plugin
    request = kubelet.requests[0]
    assert (request.version, request.resource_name) == ("v1beta1", "nvidia.com/gpu")
    assert (tmp_path / request.endpoint).is_socket()


def test_list_and_watch_advertises_every_device_healthy(plugin) -> None:
    _, stub, _ = plugin
    first = next(stub.ListAndWatch(pb.Empty(), timeout=5))
    assert [(d.ID, d.health) for d in first.devices] == [
        ("GPU-fake-l4-n1-0", "Healthy"),
        ("GPU-fake-l4-n1-1", "Healthy"),
        ("GPU-fake-l4-n1-2", "Healthy"),
    ]


def test_allocate_hands_the_container_its_device_ids_and_gpu_type(plugin) -> None:
    _, stub, _ = plugin
    req = pb.AllocateRequest(
        container_requests=[pb.ContainerAllocateRequest(devices_ids=["GPU-fake-l4-n1-2", "GPU-fake-l4-n1-0"])]
    )
    env = stub.Allocate(req, timeout=5).container_responses[0].envs
    assert env["NVIDIA_VISIBLE_DEVICES"] == "GPU-fake-l4-n1-0,GPU-fake-l4-n1-2"
    assert env["VLLM_SIM_GPU"] == "L4"
    assert env["FAKE_GPU_COUNT"] == "2"


def test_allocate_refuses_a_device_it_does_not_have(plugin) -> None:
    _, stub, _ = plugin
    req = pb.AllocateRequest(container_requests=[pb.ContainerAllocateRequest(devices_ids=["GPU-other"])])
    with pytest.raises(grpc.RpcError) as err:
        stub.Allocate(req, timeout=5)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "GPU-other" in err.value.details()


def test_registers_again_when_the_kubelet_wipes_the_plugin_directory(plugin) -> None:
    kubelet, _, tmp_path = plugin
    kubelet.registered.clear()
    (tmp_path / kubelet.requests[0].endpoint).unlink()
    assert kubelet.registered.wait(10), "the plugin did not re-register after its socket vanished"
    assert len(kubelet.requests) == 2


@pytest.mark.parametrize(("count", "gpu_type", "named"), [(0, "L4", "--count"), (1, "RTX4090", "--gpu-type")])
def test_bad_configuration_is_refused_naming_the_flag(count: int, gpu_type: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        FakeGPUs(count=count, gpu_type=gpu_type)


def test_unconfigured_the_plugin_advertises_the_card_the_simulator_assumes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gpu_device_plugin.cli import parse_args
    from vllm_sim.serve_plan import read_env

    monkeypatch.delenv("FAKE_GPU_TYPE", raising=False)
    gpus = FakeGPUs(count=1, gpu_type=parse_args([]).gpu_type)
    assert gpus.container_env(gpus.device_ids())["VLLM_SIM_GPU"] == read_env({}).gpu.key
