"""The gRPC side: serve the DevicePlugin service on a unix socket and register it with the kubelet.

The kubelet wipes its device-plugins directory when it restarts; the plugin notices its socket is gone and
serves and registers again, as real device plugins do.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc

from gpu_device_plugin._proto import deviceplugin_pb2 as pb
from gpu_device_plugin._proto import deviceplugin_pb2_grpc as pb_grpc
from gpu_device_plugin.devices import FakeGPUs

API_VERSION = "v1beta1"
log = logging.getLogger("gpu_device_plugin")


class FakeGPUPlugin(pb_grpc.DevicePluginServicer):
    """DevicePlugin service advertising healthy fake GPUs."""

    def __init__(self, gpus: FakeGPUs, stop: threading.Event) -> None:
        self.gpus = gpus
        self.stop = stop

    def GetDevicePluginOptions(
        self, request: pb.Empty, context: grpc.ServicerContext
    ) -> pb.DevicePluginOptions:
        return pb.DevicePluginOptions(pre_start_required=False, get_preferred_allocation_available=False)

    def ListAndWatch(
        self, request: pb.Empty, context: grpc.ServicerContext
    ) -> Iterator[pb.ListAndWatchResponse]:
        devices = [pb.Device(ID=i, health="Healthy") for i in self.gpus.device_ids()]
        yield pb.ListAndWatchResponse(devices=devices)
        # Devices never change; keep the stream open until shutdown or the kubelet goes away.
        while context.is_active() and not self.stop.wait(1.0):
            pass

    def Allocate(self, request: pb.AllocateRequest, context: grpc.ServicerContext) -> pb.AllocateResponse:
        responses = []
        for creq in request.container_requests:
            try:
                env = self.gpus.container_env(list(creq.devices_ids))
            except ValueError as err:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
            log.info("allocate %s", env["NVIDIA_VISIBLE_DEVICES"])
            responses.append(pb.ContainerAllocateResponse(envs=env))
        return pb.AllocateResponse(container_responses=responses)

    def GetPreferredAllocation(
        self, request: pb.PreferredAllocationRequest, context: grpc.ServicerContext
    ) -> pb.PreferredAllocationResponse:
        return pb.PreferredAllocationResponse()

    def PreStartContainer(
        self, request: pb.PreStartContainerRequest, context: grpc.ServicerContext
    ) -> pb.PreStartContainerResponse:
        return pb.PreStartContainerResponse()


def serve(plugin: FakeGPUPlugin, socket_path: Path) -> grpc.Server:
    """Start the DevicePlugin service on socket_path (replacing a stale socket)."""
    socket_path.unlink(missing_ok=True)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    pb_grpc.add_DevicePluginServicer_to_server(plugin, server)
    server.add_insecure_port(f"unix://{socket_path}")
    server.start()
    return server


def register(kubelet_socket: Path, endpoint: str, resource_name: str, timeout_s: float = 10.0) -> None:
    """Announce the plugin's socket (a name relative to the kubelet's directory) to the kubelet."""
    with grpc.insecure_channel(f"unix://{kubelet_socket}") as channel:
        pb_grpc.RegistrationStub(channel).Register(
            pb.RegisterRequest(version=API_VERSION, endpoint=endpoint, resource_name=resource_name),
            timeout=timeout_s,
        )


def run(gpus: FakeGPUs, plugin_dir: Path, resource_name: str, stop: threading.Event) -> None:
    """Serve and register until stop is set; serve and register again whenever the socket disappears."""
    endpoint = f"fake-gpu-{os.getpid()}.sock"
    socket_path = plugin_dir / endpoint
    kubelet_socket = plugin_dir / "kubelet.sock"
    plugin = FakeGPUPlugin(gpus, stop)
    server: grpc.Server | None = None
    while not stop.is_set():
        if server is None or not socket_path.exists():
            if server is not None:
                log.info("socket %s removed (kubelet restarted?): serving again", socket_path)
                server.stop(grace=None)
            server = serve(plugin, socket_path)
            try:
                register(kubelet_socket, endpoint, resource_name)
                log.info(
                    "registered %s x %s (%s) at %s", gpus.count, resource_name, gpus.gpu_type, socket_path
                )
            except grpc.RpcError as err:
                log.warning("registration with %s failed (%s); retrying", kubelet_socket, err.code())
                server.stop(grace=None)
                server = None
        stop.wait(2.0)
    if server is not None:
        server.stop(grace=1.0)
    socket_path.unlink(missing_ok=True)
