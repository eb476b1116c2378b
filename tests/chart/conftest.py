"""Chart tests share one render cache per test run (both xdist workers), so each combination renders once."""

import os

import pytest

from chart_harness.render_cache import ENV


@pytest.fixture(scope="session", autouse=True)
def _shared_render_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker has its own basetemp inside the run's directory: share the parent.
    run_dir = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    os.environ.setdefault(ENV, str(run_dir / "chart-renders"))
