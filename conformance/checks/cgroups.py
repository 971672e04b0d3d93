"""config-linux.md#control-groups: cgroupsPath and resources, read back from the
container's cgroup on the host while the container is in the created state."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..harness import Ctx, Fail, Skip, cgroup_file, cgroup_version, check, expect, expect_eq


def _created(ctx: Ctx, resources: dict[str, Any]) -> int:
    b = ctx.bundle("/checker", "echo", "x")
    b.linux["resources"].update(resources)
    cid, _ = ctx.create(b)
    return int(ctx.state(cid)["pid"])


def _read(pid: int, controller: str, v1: str, v2: str) -> str:
    name = v1 if cgroup_version(controller) == 1 else v2
    path = cgroup_file(pid, controller, name)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise Skip(f"{path} does not exist on this host") from None


@check("config-linux.md#cgroups-path", "an absolute cgroupsPath is taken relative to the cgroup mount point")
def cgroups_path(ctx: Ctx) -> None:
    b = ctx.bundle("/checker", "echo", "x")
    want = b.linux["cgroupsPath"]
    cid, _ = ctx.create(b)
    pid = int(ctx.state(cid)["pid"])
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    found = {}
    for ln in lines:
        hid, ctrls, path = ln.split(":", 2)
        for c in (ctrls.split(",") if ctrls else ["(unified)"]):
            found[c] = path
    for c in ("memory", "pids"):
        if c in found:
            expect_eq(found[c], want, f"{c} cgroup of the container process")
    if "memory" not in found and "pids" not in found:
        expect_eq(found.get("(unified)"), want, "unified cgroup of the container process")
    procs = cgroup_file(pid, "pids", "cgroup.procs").read_text().split()
    expect(str(pid) in procs, f"pid {pid} is not in {cgroup_file(pid, 'pids', 'cgroup.procs')}")


@check("config-linux.md#memory", "memory.limit is the cgroup's memory limit")
def memory_limit(ctx: Ctx) -> None:
    pid = _created(ctx, {"memory": {"limit": 64 * 1024 * 1024}})
    expect_eq(_read(pid, "memory", "memory.limit_in_bytes", "memory.max"), str(64 * 1024 * 1024), "memory limit")


@check("config-linux.md#memory", "memory.reservation is the cgroup's soft limit")
def memory_reservation(ctx: Ctx) -> None:
    pid = _created(ctx, {"memory": {"limit": 128 * 1024 * 1024, "reservation": 32 * 1024 * 1024}})
    expect_eq(_read(pid, "memory", "memory.soft_limit_in_bytes", "memory.low"), str(32 * 1024 * 1024),
              "memory soft limit")


@check("config-linux.md#memory", "memory.limit -1 means unlimited")
def memory_unlimited(ctx: Ctx) -> None:
    pid = _created(ctx, {"memory": {"limit": -1}})
    got = _read(pid, "memory", "memory.limit_in_bytes", "memory.max")
    expect(got == "max" or int(got) >= 2 ** 62, f"memory limit {got} is not unlimited")


@check("config-linux.md#pids", "pids.limit is the cgroup's pids.max")
def pids_limit(ctx: Ctx) -> None:
    pid = _created(ctx, {"pids": {"limit": 42}})
    expect_eq(_read(pid, "pids", "pids.max", "pids.max"), "42", "pids.max")


@check("config-linux.md#cpu", "cpu.quota and cpu.period set the CFS bandwidth")
def cpu_quota(ctx: Ctx) -> None:
    pid = _created(ctx, {"cpu": {"quota": 50000, "period": 100000}})
    if cgroup_version("cpu") == 1:
        expect_eq(_read(pid, "cpu", "cpu.cfs_quota_us", ""), "50000", "cpu.cfs_quota_us")
        expect_eq(_read(pid, "cpu", "cpu.cfs_period_us", ""), "100000", "cpu.cfs_period_us")
    else:
        expect_eq(_read(pid, "cpu", "", "cpu.max"), "50000 100000", "cpu.max")


@check("config-linux.md#cpu", "cpu.shares is the cgroup's CPU weight")
def cpu_shares(ctx: Ctx) -> None:
    pid = _created(ctx, {"cpu": {"shares": 512}})
    if cgroup_version("cpu") == 1:
        expect_eq(_read(pid, "cpu", "cpu.shares", ""), "512", "cpu.shares")
    else:
        # the conversion runc, crun and the kernel documentation agree on
        expect_eq(_read(pid, "cpu", "", "cpu.weight"), str(1 + ((512 - 2) * 9999) // 262142), "cpu.weight")


@check("config-linux.md#cpu", "cpu.cpus and cpu.mems set the cpuset")
def cpuset(ctx: Ctx) -> None:
    pid = _created(ctx, {"cpu": {"cpus": "0", "mems": "0"}})
    expect_eq(_read(pid, "cpuset", "cpuset.cpus", "cpuset.cpus"), "0", "cpuset.cpus")
    expect_eq(_read(pid, "cpuset", "cpuset.mems", "cpuset.mems"), "0", "cpuset.mems")


def _block_device() -> tuple[int, int]:
    for dev in sorted(Path("/sys/block").glob("*")):
        if dev.name.startswith(("loop", "ram", "zram", "sr")):
            continue
        try:
            ma, mi = (dev / "dev").read_text().strip().split(":")
            return int(ma), int(mi)
        except (OSError, ValueError):
            continue
    raise Skip("no whole-disk block device on this host")


@check("config-linux.md#block-io", "blockIO throttleReadBpsDevice limits the device's read rate")
def blkio_throttle(ctx: Ctx) -> None:
    ma, mi = _block_device()
    pid = _created(ctx, {"blockIO": {"throttleReadBpsDevice": [{"major": ma, "minor": mi, "rate": 1048576}]}})
    if cgroup_version("blkio") == 1:
        got = _read(pid, "blkio", "blkio.throttle.read_bps_device", "")
        expect(f"{ma}:{mi} 1048576" in got.splitlines(), f"blkio.throttle.read_bps_device: {got!r}")
    else:
        got = _read(pid, "io", "", "io.max")
        expect(f"{ma}:{mi} rbps=1048576" in got, f"io.max: {got!r}")


@check("config-linux.md#control-groups", "the container process is in the configured cgroup before start")
def cgroup_before_start(ctx: Ctx) -> None:
    pid = _created(ctx, {"pids": {"limit": 100}})
    procs = cgroup_file(pid, "pids", "cgroup.procs").read_text().split()
    expect(str(pid) in procs, f"pid {pid} not in the container cgroup")
    expect_eq(_read(pid, "pids", "pids.max", "pids.max"), "100", "pids.max")
    if not os.path.exists(f"/proc/{pid}"):
        raise Fail("container process vanished in the created state")
