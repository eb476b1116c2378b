"""The Pod Security Standards' `restricted` profile (baseline included), as the API server's PodSecurity
admission checks a pod spec (k8s.io/pod-security-admission, policy version latest): what a namespace
labelled `pod-security.kubernetes.io/enforce: restricted` would refuse.

`violations(spec)` lists every rule a pod spec breaks, in the admission plugin's words; an empty list means
the pod is admitted. Windows-only and AppArmor/SELinux-option details beyond the types are out of scope.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

Obj = Mapping[str, Any]

# Volume types the restricted profile allows (the rest are host or node-level access).
ALLOWED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
# Capabilities a restricted container may add back after dropping ALL.
ADDABLE_CAPABILITIES = {"NET_BIND_SERVICE"}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def _containers(spec: Obj) -> Iterator[Obj]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def _effective(pod: Obj, container: Obj, field: str) -> Any:
    """A securityContext field of the container, falling back to the pod's."""
    own = (container.get("securityContext") or {}).get(field)
    return own if own is not None else pod.get(field)


def violations(spec: Obj) -> list[str]:
    """Every restricted-profile rule the pod spec breaks."""
    out: list[str] = []
    pod_sc: Obj = spec.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            out.append(f"host namespaces ({field}=true)")
    for vol in spec.get("volumes") or []:
        kinds = set(vol) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            out.append(
                f"restricted volume types (volume {vol['name']!r} uses {sorted(kinds - ALLOWED_VOLUMES)})"
            )
    for sysctl in pod_sc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            out.append(f"forbidden sysctls ({sysctl.get('name')})")
    selinux = (pod_sc.get("seLinuxOptions") or {}).get("type", "")
    if selinux not in SELINUX_TYPES:
        out.append(f"seLinuxOptions type {selinux!r}")
    if pod_sc.get("runAsUser") == 0:
        out.append("runAsUser=0 (pod)")
    for c in _containers(spec):
        name, sc = c.get("name", "?"), c.get("securityContext") or {}
        if sc.get("privileged"):
            out.append(f"privileged (container {name!r})")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"allowPrivilegeEscalation != false (container {name!r})")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            out.append(f"unrestricted capabilities (container {name!r} must drop ALL)")
        added = set(caps.get("add") or []) - ADDABLE_CAPABILITIES
        if added:
            out.append(f"unrestricted capabilities (container {name!r} adds {sorted(added)})")
        if _effective(pod_sc, c, "runAsNonRoot") is not True:
            out.append(f"runAsNonRoot != true (container {name!r})")
        if sc.get("runAsUser") == 0:
            out.append(f"runAsUser=0 (container {name!r})")
        seccomp = (_effective(pod_sc, c, "seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"seccompProfile (container {name!r} has {seccomp!r})")
        if any(p.get("hostPort") for p in c.get("ports") or []):
            out.append(f"hostPort (container {name!r})")
        if sc.get("procMount") not in (None, "Default"):
            out.append(f"procMount (container {name!r})")
        c_selinux = (sc.get("seLinuxOptions") or {}).get("type", "")
        if c_selinux not in SELINUX_TYPES:
            out.append(f"seLinuxOptions type {c_selinux!r} (container {name!r})")
    return out
