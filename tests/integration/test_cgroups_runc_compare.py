"""Same linux.resources, runc vs pyrunc: the cgroup files must read the
same. Runs where runc is installed and can start a container (this hybrid
host; the v2 VM when it has runc)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from typing import Iterator

import pytest

from pyrunc.cgroups import fsutil
from pyrunc.cgroups.base import Manager
from pyrunc.cgroups.detect import detect
from tests.conftest import block_device

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not shutil.which("runc"), reason="runc is not installed"),
    pytest.mark.skipif(not shutil.which("busybox"), reason="needs busybox"),
]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAYOUT = detect()


def _resources() -> dict:
    r: dict = {
        "devices": [
            {"allow": False, "access": "rwm"},
            {"allow": True, "type": "c", "major": 4, "minor": 64, "access": "rw"},
            {"allow": True, "type": "b", "major": 7, "access": "r"},
        ],
        "memory": {"limit": 96 << 20, "reservation": 48 << 20, "swap": 192 << 20},
        "cpu": {"shares": 300, "quota": 40000, "period": 80000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 77},
        "blockIO": {"weight": 250},
    }
    if LAYOUT.mode != "v2":
        r["memory"].update({"swappiness": 20, "disableOOMKiller": True})
    dev = block_device()
    if dev:
        r["blockIO"]["throttleReadBpsDevice"] = [{"major": dev[0], "minor": dev[1], "rate": 2097152}]
        r["blockIO"]["throttleWriteIOPSDevice"] = [{"major": dev[0], "minor": dev[1], "rate": 123}]
    return r


V1_FILES = [
    ("memory", "memory.limit_in_bytes"),
    ("memory", "memory.soft_limit_in_bytes"),
    ("memory", "memory.memsw.limit_in_bytes"),
    ("memory", "memory.swappiness"),
    ("memory", "memory.oom_control"),
    ("cpu", "cpu.shares"),
    ("cpu", "cpu.cfs_quota_us"),
    ("cpu", "cpu.cfs_period_us"),
    ("cpuset", "cpuset.cpus"),
    ("cpuset", "cpuset.mems"),
    ("pids", "pids.max"),
    ("blkio", "blkio.weight"),
    ("blkio", "blkio.bfq.weight"),
    ("blkio", "blkio.throttle.read_bps_device"),
    ("blkio", "blkio.throttle.write_iops_device"),
    ("devices", "devices.list"),
]
V2_FILES = [
    "memory.max",
    "memory.low",
    "memory.swap.max",
    "cpu.weight",
    "cpu.max",
    "cpuset.cpus",
    "cpuset.mems",
    "pids.max",
    "io.weight",
    "io.bfq.weight",
    "io.max",
]


def _snapshot(dirs: dict[str, str]) -> dict[str, str]:
    """controller/file -> normalised content, for files that exist."""
    out = {}
    if LAYOUT.mode == "v2":
        for f in V2_FILES:
            s = fsutil.read_opt(dirs[""], f)
            if s is not None:
                out[f] = s.strip()
    else:
        for ctrl, f in V1_FILES:
            if ctrl not in dirs:
                continue
            s = fsutil.read_opt(dirs[ctrl], f)
            if s is None:
                continue
            if f == "devices.list":
                s = "\n".join(sorted(s.split("\n")))
            if f == "memory.oom_control":
                s = s.split("\n")[0]  # oom_kill_disable; the counters vary
            out[f"{ctrl}/{f}"] = s.strip()
    return out


def _dirs_of_pid(pid: int) -> dict[str, str]:
    from pyrunc.cgroups.detect import own_cgroups

    own = own_cgroups(pid)
    if LAYOUT.mode == "v2":
        return {"": os.path.join(LAYOUT.unified, own[""].lstrip("/"))}
    return {c: os.path.join(m, own[c].lstrip("/")) for c, m in LAYOUT.v1.items() if c in own}


def _bundle(tmp: str, name: str, resources: dict) -> str:
    b = os.path.join(tmp, name)
    os.makedirs(os.path.join(b, "rootfs", "bin"))
    shutil.copy(shutil.which("busybox"), os.path.join(b, "rootfs", "bin", "busybox"))
    os.symlink("busybox", os.path.join(b, "rootfs", "bin", "sleep"))
    env = dict(os.environ, PYTHONPATH=REPO)
    subprocess.run([sys.executable, "-m", "pyrunc", "spec", "--bundle", b], check=True, env=env)
    with open(os.path.join(b, "config.json")) as f:
        c = json.load(f)
    c["process"]["terminal"] = False
    c["process"]["args"] = ["sleep", "1000"]
    c["linux"]["cgroupsPath"] = f"/pyrunc-test-{name}-{uuid.uuid4().hex[:8]}"
    c["linux"]["resources"] = resources
    with open(os.path.join(b, "config.json"), "w") as f:
        json.dump(c, f)
    return b


@pytest.fixture
def pair(tmp_path) -> Iterator[tuple[dict, dict]]:
    res = _resources()
    tmp = str(tmp_path)
    runc_root = os.path.join(tmp, "runc-state")
    py_root = os.path.join(tmp, "pyrunc-state")
    rid, pid_ = f"pyrunc-test-r{uuid.uuid4().hex[:6]}", f"pyrunc-test-p{uuid.uuid4().hex[:6]}"
    rb, pb = _bundle(tmp, "runc", res), _bundle(tmp, "pyrunc", res)
    env = dict(os.environ, PYTHONPATH=REPO)
    null = subprocess.DEVNULL
    started: list[str] = []
    try:
        errf = os.path.join(tmp, "runc.err")  # a file: the container inherits stderr
        with open(errf, "w") as err:
            r = subprocess.run(["runc", "--root", runc_root, "run", "-d", "--bundle", rb, rid], stdin=null, stdout=null, stderr=err, timeout=60)
        if r.returncode != 0:
            pytest.skip(f"runc cannot run a container here: {open(errf).read().strip()}")
        started.append("runc")
        subprocess.run([sys.executable, "-m", "pyrunc", "--root", py_root, "run", "-d", "--bundle", pb, pid_], stdin=null, stdout=null, stderr=null, check=True, env=env, timeout=60)
        started.append("pyrunc")
        rstate = json.loads(subprocess.run(["runc", "--root", runc_root, "state", rid], capture_output=True, check=True).stdout)
        with open(os.path.join(py_root, pid_, "state.json")) as f:
            pstate = json.load(f)
        yield _snapshot(_dirs_of_pid(rstate["pid"])), _snapshot(_dirs_of_pid(pstate["pid"]))
    finally:
        subprocess.run(["runc", "--root", runc_root, "delete", "--force", rid], stdin=null, stdout=null, stderr=null)
        subprocess.run([sys.executable, "-m", "pyrunc", "--root", py_root, "delete", "--force", pid_], stdin=null, stdout=null, stderr=null, env=env)
        for b in (rb, pb):
            with open(os.path.join(b, "config.json")) as f:
                path = json.load(f)["linux"]["cgroupsPath"]
            leftovers = [os.path.join(m, path.lstrip("/")) for m in set(LAYOUT.v1.values()) | {LAYOUT.unified or ""} if m]
            for d in leftovers:
                if os.path.isdir(d):
                    for p in fsutil.read_pids(d):
                        os.kill(p, signal.SIGKILL)
                    time.sleep(0.1)
                    os.rmdir(d)


def test_resource_files_match_runc(pair: tuple[dict, dict]) -> None:
    runc_files, py_files = pair
    assert len(runc_files) >= 8, runc_files
    assert set(py_files) == set(runc_files)
    diffs = {k: (runc_files[k], py_files[k]) for k in runc_files if runc_files[k] != py_files[k]}
    assert diffs == {}
