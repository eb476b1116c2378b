"""Tier markers by location: everything under tests/e2e/ is `e2e`, everything else is `unit`."""

from pathlib import Path

import pytest

E2E_DIR = Path(__file__).parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        in_e2e = E2E_DIR in Path(str(item.fspath)).parents
        item.add_marker(pytest.mark.e2e if in_e2e else pytest.mark.unit)
