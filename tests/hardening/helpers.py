"""Helpers for the hardening tier: attacks mounted for real against pyrunc.

A `host_state()` snapshot (mounts, cgroup dirs, the test process's fds,
pyrunc's state dirs) taken before and after lets a test prove that an
attack, a crash or a thousand cycles left the host where it was."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from tests.conftest import PYRUNC, REPO, Runtime, cgroup_dirs_named, mounts_mentioning  # noqa: F401

FULL = os.environ.get("PYRUNC_FULL") == "1"


def full_or(default: int, full: int) -> int:
    """Iteration counts: the CI size, or the full size with PYRUNC_FULL=1."""
    return full if FULL else default


# ------------------------------------------------------------------ host state

def mountinfo(pid: str | int = "self") -> list[str]:
    with open(f"/proc/{pid}/mountinfo") as f:
        return f.read().splitlines()


def mount_points(pid: str | int = "self") -> list[str]:
    return [line.split()[4] for line in mountinfo(pid)]


def all_cgroup_dirs() -> set[str]:
    out: set[str] = set()
    for base, dirs, _ in os.walk("/sys/fs/cgroup"):
        for d in dirs:
            out.add(os.path.join(base, d))
        if base.count("/") > 7:
            dirs[:] = []
    return out


def cgroup_dirs_with(fragment: str) -> list[str]:
    return sorted(d for d in all_cgroup_dirs() if fragment in os.path.basename(d))


def open_fds() -> list[str]:
    return sorted(os.listdir("/proc/self/fd"), key=int)


def pids_rooted_under(path: Path | str) -> list[int]:
    """Host pids whose root or cwd lies under `path` (a bundle)."""
    path = str(path)
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        for link in ("root", "cwd"):
            try:
                if os.readlink(f"/proc/{p}/{link}").startswith(path):
                    found.append(int(p))
                    break
            except OSError:
                pass
    return found


def pids_in_cgroup_named(fragment: str) -> list[int]:
    pids = []
    for d in cgroup_dirs_with(fragment):
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                pids += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return pids


@dataclass
class HostState:
    mounts: list[str]
    cgroups: set[str]
    fds: list[str]
    state_dirs: list[str]

    def diff(self, other: "HostState") -> dict[str, Any]:
        """What changed between self (before) and other (after)."""
        out: dict[str, Any] = {}
        m_before, m_after = sorted(self.mounts), sorted(other.mounts)
        if m_before != m_after:
            out["mounts"] = {"gone": sorted(set(m_before) - set(m_after)),
                             "new": sorted(set(m_after) - set(m_before)), "count": (len(m_before), len(m_after))}
        if self.cgroups != other.cgroups:
            out["cgroups"] = {"gone": sorted(self.cgroups - other.cgroups),
                              "new": sorted(other.cgroups - self.cgroups)}
        if self.fds != other.fds:
            out["fds"] = (self.fds, other.fds)
        if self.state_dirs != other.state_dirs:
            out["state_dirs"] = (self.state_dirs, other.state_dirs)
        return out


def _mount_key(line: str) -> str:
    # drop the mount id and parent id: the same mount keeps its identity
    # across snapshots but not its place in the list
    f = line.split()
    return " ".join(f[2:])


def host_state(rt: Runtime | None = None) -> HostState:
    return HostState(
        mounts=[_mount_key(line) for line in mountinfo()],
        cgroups=all_cgroup_dirs(),
        fds=open_fds(),
        state_dirs=rt.ids() if rt is not None else [],
    )


def assert_nothing_left(rt: Runtime, cid: str, bundle: Path | None = None) -> None:
    """No state dir, cgroup, process or mount of container `cid` remains."""
    assert not (rt.root / cid).exists(), f"state dir of {cid} left: {os.listdir(rt.root / cid)}"
    assert cgroup_dirs_with(cid) == [], f"cgroup of {cid} left"
    if bundle is not None:
        assert pids_rooted_under(bundle) == [], f"processes of {cid} left"
        assert mounts_mentioning(str(bundle)) == [], f"mounts of {cid} left"


# ------------------------------------------------------------------ files

def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def host_binaries() -> list[str]:
    """The host files a CVE-2019-5736 style attack would overwrite: the
    Python interpreter and every library mapped into a pyrunc process
    (libpython included), pyrunc-init and pyrunc's compiled modules."""
    out = {os.path.realpath(sys.executable)}
    probe = subprocess.run([*PYRUNC, "--version"], capture_output=True)
    assert probe.returncode == 0
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[5].startswith("/") and (".so" in parts[5] or "python" in parts[5]):
                out.add(parts[5])
    pkg = REPO / "pyrunc"
    out.add(str(pkg / "libexec" / "pyrunc-init"))
    for so in pkg.rglob("*.so"):
        out.add(str(so))
    return sorted(p for p in out if os.path.isfile(p))


def hashes(paths: Iterable[str]) -> dict[str, str]:
    return {p: sha256(p) for p in paths}


# ------------------------------------------------------------------ processes

def wait_for(cond, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def kill_pids(pids: Iterable[int]) -> None:
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def json_or_absent(path: Path) -> dict | None:
    """state.json is either absent or complete JSON, never half-written."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return json.loads(data)
