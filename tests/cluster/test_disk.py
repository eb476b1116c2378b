"""cluster-up's free-space check (hack/cluster/disk.sh): it refuses to start, naming the filesystem and the
room needed, where the kubelets would evict every pod, and counts an image store only for a real node whose
images are not imported yet. `df` is a stand-in on PATH that reports a chosen free figure."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

HACK = Path(__file__).resolve().parents[2] / "hack" / "cluster"


def preflight(
    tmp_path: Path, free_mib: int, imported: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run disk_preflight with STATE under tmp_path, `df` reporting free_mib on /fake, and the image stores of
    the real nodes named in imported present."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    df = bin_dir / "df"
    df.write_text(f"#!/bin/sh\nprintf 'Avail Mounted on\\n%s /fake\\n' {free_mib}\n")
    df.chmod(0o755)
    state = tmp_path / "state"
    for name in imported:
        (state / "nodes" / name / "containerd" / "io.containerd.snapshotter.v1.overlayfs").mkdir(parents=True)
    script = f"""
source {HACK}/env.sh
source {HACK}/disk.sh
STATE={state}
VAR_DIR={tmp_path}/var
PATH={bin_dir}:$PATH
disk_preflight
printf 'need %s %s %s\\n' "$KUBELET_EVICTION_FREE_MIB" "$CLUSTER_RUN_MIB" "$NODE_IMAGE_STORE_MIB"
"""
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)


def figures(tmp_path: Path) -> tuple[int, int, int]:
    out = preflight(tmp_path, 10**9).stdout.split()
    return int(out[1]), int(out[2]), int(out[3])


def real_nodes() -> list[str]:
    out = subprocess.run(
        ["bash", "-c", f"source {HACK}/env.sh; real_node_names"], capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def test_too_little_free_space_is_refused_naming_the_filesystem_and_the_need(tmp_path: Path) -> None:
    eviction, run, store = figures(tmp_path)
    need = eviction + run + store * len(real_nodes())
    result = preflight(tmp_path, need - 1)
    assert result.returncode == 1
    assert f"only {need - 1} MiB free on /fake" in result.stderr
    assert f"the local cluster needs {need} MiB" in result.stderr
    assert "need" not in result.stdout  # it stopped there


def test_exactly_the_room_needed_is_enough(tmp_path: Path) -> None:
    eviction, run, store = figures(tmp_path)
    need = eviction + run + store * len(real_nodes())
    result = preflight(tmp_path, need)
    assert result.returncode == 0, result.stderr
    assert f"disk: {need} MiB needed" in result.stderr


@pytest.mark.parametrize("imported_count", [1, 2])
def test_a_node_whose_images_are_imported_needs_no_room_for_them(tmp_path: Path, imported_count: int) -> None:
    eviction, run, store = figures(tmp_path)
    nodes = real_nodes()
    need = eviction + run + store * (len(nodes) - imported_count)
    result = preflight(tmp_path, need, imported=tuple(nodes[:imported_count]))
    assert result.returncode == 0, result.stderr
    assert f"disk: {need} MiB needed" in result.stderr
    assert preflight(tmp_path, need - 1).returncode == 1


def test_the_kubelets_evict_at_the_same_absolute_floor_the_check_keeps() -> None:
    """nodes.sh writes the eviction floor from the one variable, never a percentage of the disk."""
    nodes_sh = (HACK / "nodes.sh").read_text()
    assert "nodefs.available: ${KUBELET_EVICTION_FREE_MIB}Mi" in nodes_sh
    assert "imagefs.available: ${KUBELET_EVICTION_FREE_MIB}Mi" in nodes_sh
