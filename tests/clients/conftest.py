"""Client tier: docker, containerd (ctr) and podman drive pyrunc end to end.

Run with `python3 -m pytest -m clients tests/clients` as root; needs Debian's
docker.io, containerd and podman (skipped when a client is missing)."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "clients: end-to-end tests through docker, containerd and podman")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.clients)


def require(*binaries: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("client tests need root")
    missing = [b for b in binaries if shutil.which(b) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (apt-get install docker.io containerd podman)")
