"""The chart installed as a release under test: helm install/upgrade/uninstall with values files, and what
the release runs (its Service, its pools' pods, their ready endpoints)."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pykube
from prometheus_client.parser import text_string_to_metric_families

from .kube import ROOT, helm, wait_until

CHART = ROOT / "charts" / "vllm-inference"
LOCAL_SIM = ROOT / "values" / "local-sim.yaml"
E2E_VALUES = ROOT / "tests" / "e2e" / "values"
POOLS = {"onDemand": "pool-on-demand", "spot": "pool-spot"}  # pool -> app.kubernetes.io/component


def run(*args: str, timeout_s: float, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=timeout_s, check=False)


def ready_endpoints(api: pykube.HTTPClient, ns: str, service: str) -> list[dict[str, Any]]:
    slices = pykube.object_factory(api, "discovery.k8s.io/v1", "EndpointSlice").objects(api, namespace=ns)
    return [
        e
        for s in slices.filter(selector={"kubernetes.io/service-name": service})
        for e in s.obj.get("endpoints") or []
        if (e.get("conditions") or {}).get("ready")
    ]


@dataclass
class Release:
    api: pykube.HTTPClient
    kubeconfig: str
    namespace: str
    name: str = "sim"
    helm: str = field(default_factory=helm)

    def helm_cmd(self, *args: str, timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
        return run(
            self.helm, *args, "-n", self.namespace, "--kubeconfig", self.kubeconfig, timeout_s=timeout_s
        )

    def install(
        self, *values: Path, sets: Sequence[str] = (), wait: bool = False, timeout: str = "180s"
    ) -> str:
        """helm upgrade --install (local-sim, then `values`, then `sets`); its output, failing on error."""
        out = self.chart_cmd("upgrade", "--install", values=values, sets=sets, wait=wait, timeout=timeout)
        assert out.returncode == 0, f"helm install failed:\n{out.stdout}\n{out.stderr}"
        return out.stdout

    def upgrade(self, *values: Path, sets: Sequence[str] = (), strings: Sequence[str] = ()) -> str:
        out = self.chart_cmd("upgrade", values=values, sets=sets, strings=strings)
        assert out.returncode == 0, f"helm upgrade failed:\n{out.stdout}\n{out.stderr}"
        return out.stdout

    def roll(self, *values: Path) -> str:
        """helm upgrade with `values` and a new pod annotation, so every pool rolls out. The annotation goes
        in with --set-string: a random hex value may be all digits, which --set would type as a number."""
        return self.upgrade(*values, strings=[f"podAnnotations.e2e/rollout={uuid.uuid4().hex[:8]}"])

    def chart_cmd(
        self,
        *verb: str,
        values: Sequence[Path] = (),
        sets: Sequence[str] = (),
        strings: Sequence[str] = (),
        wait: bool = False,
        timeout: str = "180s",
        base: Path | None = LOCAL_SIM,
    ) -> subprocess.CompletedProcess[str]:
        """helm VERB RELEASE CHART with the values files (`base` first), --set and --set-string values."""
        args = [*verb, self.name, str(CHART), "--create-namespace"]
        for f in [base, *values] if base else values:
            args += ["-f", str(f)]
        for s in sets:
            args += ["--set", s]
        for s in strings:
            args += ["--set-string", s]
        if wait:
            args += ["--wait", "--timeout", timeout]
        return self.helm_cmd(*args, timeout_s=600)

    def uninstall(self) -> None:
        """helm uninstall, then the release's pods deleted at once: the scenario is over, nothing needs its
        drain, and the namespace (deleted after) frees its GPUs sooner."""
        self.helm_cmd("uninstall", self.name, "--timeout", "60s", timeout_s=90)
        for pod in pykube.Pod.objects(self.api, namespace=self.namespace):
            r = self.api.delete(**pod.api_kwargs(data=json.dumps({"gracePeriodSeconds": 0})))
            if r.status_code != 404:
                self.api.raise_for_status(r)

    @property
    def service(self) -> pykube.Service:
        (svc,) = pykube.Service.objects(self.api, namespace=self.namespace).filter(
            selector={"app.kubernetes.io/instance": self.name}
        )
        return svc

    @property
    def service_url(self) -> str:
        """The Service's ClusterIP URL: reachable where kube-proxy's rules are (a node, a pod)."""
        spec = self.service.obj["spec"]
        return f"http://{spec['clusterIP']}:{spec['ports'][0]['port']}"

    def pods(self, pool: str | None = None) -> list[pykube.Pod]:
        selector = {"app.kubernetes.io/instance": self.name}
        if pool:
            selector["app.kubernetes.io/component"] = POOLS[pool]
        pods = pykube.Pod.objects(self.api, namespace=self.namespace).filter(selector=selector)
        return [p for p in pods if p.labels.get("app.kubernetes.io/component") in POOLS.values()]

    def deployment(self, pool: str) -> pykube.Deployment:
        selector = {"app.kubernetes.io/instance": self.name, "app.kubernetes.io/component": POOLS[pool]}
        (dep,) = pykube.Deployment.objects(self.api, namespace=self.namespace).filter(selector=selector)
        return dep

    def ready_pods(self, pool: str | None = None) -> list[pykube.Pod]:
        def ready(p: pykube.Pod) -> bool:
            conditions = {c["type"]: c["status"] for c in p.obj["status"].get("conditions", [])}
            return conditions.get("Ready") == "True" and "deletionTimestamp" not in p.metadata

        return [p for p in self.pods(pool) if ready(p)]

    def served(self, pod: pykube.Pod) -> float:
        """Requests the pod's server has finished (vllm:request_success_total, every finish reason), read
        through the API server's proxy to the pod."""
        ports = [
            p for c in pod.obj["spec"]["containers"] for p in c.get("ports", []) if p.get("name") == "http"
        ]
        url = f"namespaces/{pod.namespace}/pods/{pod.name}:{ports[0]['containerPort']}/proxy/metrics"
        r = self.api.get(url=url, version="v1")
        self.api.raise_for_status(r)
        return sum(
            s.value
            for family in text_string_to_metric_families(r.text)
            for s in family.samples
            if s.name == "vllm:request_success_total"
        )

    def wait_serving(self, replicas: dict[str, int], timeout_s: float = 180) -> None:
        """Until each pool has its replicas Ready and every Ready pod is an endpoint of the Service."""

        def serving() -> bool:
            if any(len(self.ready_pods(pool)) != n for pool, n in replicas.items()):
                return False
            addresses = {
                a
                for e in ready_endpoints(self.api, self.namespace, self.service.name)
                for a in e["addresses"]
            }
            return {p.obj["status"].get("podIP") for p in self.ready_pods()} <= addresses

        wait_until(f"release {self.name} serving {replicas}", serving, timeout_s, 1)

    def wait_rolled_out(self, pool: str, timeout_s: float = 240) -> float:
        """Until the pool's Deployment has rolled out its latest template; returns when (monotonic)."""

        def done() -> bool:
            dep = self.deployment(pool)
            dep.reload()
            st, want = dep.obj.get("status", {}), dep.obj["spec"]["replicas"]
            return (
                st.get("observedGeneration", 0) >= dep.obj["metadata"]["generation"]
                and st.get("updatedReplicas", 0) == want
                and st.get("availableReplicas", 0) == want
                and st.get("replicas", 0) == want
            )

        wait_until(f"the {pool} pool rolled out", done, timeout_s, 1)
        return time.monotonic()
