"""v1 -> v2 conversions (runc's formulas) and the resources helpers."""
from __future__ import annotations

import pytest

from pyrunc.cgroups import convert
from pyrunc.cgroups.base import merge_resources
from pyrunc.cgroups.update import complete, delta_from_flags
from pyrunc.cgroups.units import go_duration, ram_in_bytes
from pyrunc.errors import ConfigError, UnsupportedError


@pytest.mark.parametrize("shares,weight", [(0, 0), (2, 1), (1024, 39), (512, 20), (262144, 10000), (100, 4)])
def test_shares_to_weight(shares: int, weight: int) -> None:
    assert convert.cpu_shares_to_weight(shares) == weight


@pytest.mark.parametrize("blkio,io", [(0, 0), (10, 1), (1000, 10000), (500, 4950), (100, 910)])
def test_blkio_weight_to_io_weight(blkio: int, io: int) -> None:
    assert convert.blkio_weight_to_io_weight(blkio) == io


@pytest.mark.parametrize(
    "swap,mem,out",
    [
        (0, -1, -1),  # unlimited memory, swap unset: both unlimited
        (-1, 1000, -1),
        (0, 1000, 0),
        (3000, 1000, 2000),
        (1000, 1000, 0),
    ],
)
def test_swap_to_v2(swap: int, mem: int, out: int) -> None:
    assert convert.memory_swap_to_v2(swap, mem) == out


@pytest.mark.parametrize("swap,mem,msg", [(2000, 0, "without memory limit"), (500, 1000, ">= memory limit")])
def test_swap_to_v2_errors(swap: int, mem: int, msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        convert.memory_swap_to_v2(swap, mem)


@pytest.mark.parametrize(
    "quota,period,out",
    [(0, 0, None), (50000, 100000, "50000 100000"), (-1, 100000, "max 100000"), (50000, 0, "50000"), (0, 20000, "max 20000")],
)
def test_cpu_max(quota: int, period: int, out: str | None) -> None:
    assert convert.cpu_max(quota, period) == out


@pytest.mark.parametrize(
    "s,n", [("1024", 1024), ("1k", 1024), ("512m", 512 << 20), ("1g", 1 << 30), ("1GiB", 1 << 30), ("1.5k", 1536)]
)
def test_ram_in_bytes(s: str, n: int) -> None:
    assert ram_in_bytes(s) == n


def test_ram_in_bytes_rejects_garbage() -> None:
    with pytest.raises(ConfigError, match="--memory"):
        ram_in_bytes("12xb", "--memory")


@pytest.mark.parametrize("s,secs", [("5s", 5.0), ("250ms", 0.25), ("1m30s", 90.0), ("1h", 3600.0), ("0", 0.0)])
def test_go_duration(s: str, secs: float) -> None:
    assert go_duration(s) == pytest.approx(secs)


def test_go_duration_rejects_garbage() -> None:
    with pytest.raises(ConfigError):
        go_duration("5 seconds")


def test_update_flags_to_resources() -> None:
    d = delta_from_flags(
        {
            "memory": "64m",
            "memory_swap": "-1",
            "memory_reservation": "32m",
            "cpu_share": "512",
            "cpu_quota": "-1",
            "cpu_period": "100000",
            "cpuset_cpus": "0",
            "pids_limit": "10",
            "blkio_weight": "300",
            "kernel_memory": None,
        }
    )
    assert d == {
        "memory": {"limit": 64 << 20, "swap": -1, "reservation": 32 << 20},
        "cpu": {"period": 100000, "shares": 512, "quota": -1, "cpus": "0"},
        "pids": {"limit": 10},
        "blockIO": {"weight": 300},
    }


def test_update_flags_validation() -> None:
    with pytest.raises(ConfigError, match="--cpu-share"):
        delta_from_flags({"cpu_share": "-3"})
    with pytest.raises(UnsupportedError, match="l3-cache-schema"):
        delta_from_flags({"l3_cache_schema": "L3:0=f"})


def test_update_completes_codependent_values() -> None:
    stored = {"cpu": {"quota": 20000, "period": 50000}, "memory": {"limit": 1000}}
    assert complete({"cpu": {"quota": 30000}}, stored)["cpu"] == {"quota": 30000, "period": 50000}
    assert complete({"cpu": {"period": 10000}}, stored)["cpu"] == {"quota": 20000, "period": 10000}
    assert complete({"memory": {"swap": 4000}}, stored)["memory"] == {"swap": 4000, "limit": 1000}


def test_merge_resources() -> None:
    old = {"cpu": {"shares": 2, "cpus": "0"}, "devices": [{"allow": False, "access": "rwm"}], "pids": {"limit": 5}}
    new = merge_resources(old, {"cpu": {"shares": 9}, "pids": {"limit": 7}, "unified": {"a.b": "1"}})
    assert new == {
        "cpu": {"shares": 9, "cpus": "0"},
        "devices": [{"allow": False, "access": "rwm"}],
        "pids": {"limit": 7},
        "unified": {"a.b": "1"},
    }
    assert old["cpu"]["shares"] == 2
