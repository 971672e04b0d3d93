"""pause / resume / update / events / ps / kill --all / delete through the
pyrunc CLI on real busybox containers, on whatever cgroup layout the host
has. Containers use cgroupsPath /pyrunc-test-*; fixtures delete them (and
check no cgroup is left) even when a test fails."""
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

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not shutil.which("busybox"), reason="needs busybox (busybox-static)"),
]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _wait(cond, what: str, limit: float = 30.0) -> None:
    end = time.monotonic() + limit
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


_SPEC: str | None = None


class Runtime:
    def __init__(self, tmp: str) -> None:
        self.root = os.path.join(tmp, "state")
        self.tmp = tmp
        self.ids: list[str] = []
        self.cgroups: list[Manager] = []

    def cmd(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run pyrunc; output goes to files (a detached container inherits
        stdio, so pipes would never reach EOF)."""
        import tempfile

        env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, tempfile.TemporaryFile("w+") as inp:
            if input is not None:
                inp.write(input)
                inp.seek(0)
            p = subprocess.Popen(
                [sys.executable, "-m", "pyrunc", "--root", self.root, *args],
                stdin=inp if input is not None else subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
            )
            try:
                rc = p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                raise
            out.seek(0)
            err.seek(0)
            r = subprocess.CompletedProcess(args, rc, out.read(), err.read())
        if check and r.returncode != 0:
            raise AssertionError(f"pyrunc {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
        return r

    def bundle(self, args: list[str], resources: dict | None = None) -> str:
        b = os.path.join(self.tmp, f"bundle-{uuid.uuid4().hex[:6]}")
        bindir = os.path.join(b, "rootfs", "bin")
        os.makedirs(bindir)
        os.makedirs(os.path.join(b, "rootfs", "tmp"))
        shutil.copy(shutil.which("busybox"), os.path.join(bindir, "busybox"))
        for a in ("sh", "sleep", "cat", "head", "tr", "echo", "ls", "mknod", "true"):
            os.symlink("busybox", os.path.join(bindir, a))
        global _SPEC
        if _SPEC is None:  # one `pyrunc spec` per session (each CLI call is slow under TCG)
            self.cmd("spec", "--bundle", b)
            with open(os.path.join(b, "config.json")) as f:
                _SPEC = f.read()
        c = json.loads(_SPEC)
        c["process"]["terminal"] = False
        c["root"]["readonly"] = False
        for k in ("bounding", "effective", "permitted"):
            c["process"]["capabilities"][k].append("CAP_MKNOD")  # to test the device rules
        c["process"]["args"] = args
        c["linux"]["cgroupsPath"] = f"/pyrunc-test-{uuid.uuid4().hex[:10]}"
        res = c["linux"].setdefault("resources", {})
        res.update(resources or {})
        with open(os.path.join(b, "config.json"), "w") as f:
            json.dump(c, f)
        return b

    def run(self, args: list[str], resources: dict | None = None) -> str:
        cid = f"pyrunc-test-{uuid.uuid4().hex[:8]}"
        b = self.bundle(args, resources)
        self.ids.append(cid)
        self.cmd("run", "-d", "--bundle", b, cid)
        self.cgroups.append(self.manager(cid))
        return cid

    def state_file(self, cid: str) -> dict:
        with open(os.path.join(self.root, cid, "state.json")) as f:
            return json.load(f)

    def manager(self, cid: str) -> Manager:
        return Manager.from_dict(self.state_file(cid)["cgroup"])

    def status(self, cid: str) -> str:
        return json.loads(self.cmd("state", cid).stdout)["status"]


def _cleanup(r: Runtime) -> None:
    for cid in r.ids:
        r.cmd("delete", "--force", cid, check=False)
    for m in r.cgroups:
        if m.exists():  # a failed delete: clean up, then fail loudly
            try:
                m.thaw()
            except Exception:
                pass
            m.kill_all(signal.SIGKILL)
            _wait(lambda: not m.pids(), "leftover processes to die")
            m.destroy()
            raise AssertionError(f"delete left the cgroup {m.path('')}")


@pytest.fixture
def rt(tmp_path) -> Iterator[Runtime]:
    r = Runtime(str(tmp_path))
    try:
        yield r
    finally:
        _cleanup(r)


SHARED_RESOURCES = {"memory": {"limit": 64 << 20}, "cpu": {"shares": 512, "quota": 20000, "period": 100000}, "pids": {"limit": 30}}


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Iterator[tuple[Runtime, str]]:
    """One container (two sleeps) for the read-mostly command tests."""
    r = Runtime(str(tmp_path_factory.mktemp("cgcmd")))
    try:
        cid = r.run(["sh", "-c", "sleep 1000 & sleep 1000"], SHARED_RESOURCES)
        m = r.manager(cid)
        _wait(lambda: len(m.pids()) == 2, "both processes")
        yield r, cid
    finally:
        _cleanup(r)


def _procs_states(pids: list[int]) -> list[str]:
    out = []
    for pid in pids:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("State:"):
                out.append(line.split()[1])
    return out


def test_ps_json_and_table(shared: tuple[Runtime, str]) -> None:
    rt, cid = shared
    m = rt.manager(cid)
    pids = json.loads(rt.cmd("ps", "--format", "json", cid).stdout)
    assert sorted(pids) == sorted(m.pids()) and len(pids) == 2
    table = rt.cmd("ps", cid).stdout.splitlines()
    assert table[0].split()[:2] == ["UID", "PID"]
    assert sorted(int(line.split()[1]) for line in table[1:]) == sorted(pids)
    custom = rt.cmd("ps", cid, "-o", "pid,comm").stdout.splitlines()
    assert custom[0].split() == ["PID", "COMMAND"]
    assert {line.split()[1] for line in custom[1:]} == {"sleep"}


def test_events_stats_shape(shared: tuple[Runtime, str]) -> None:
    rt, cid = shared
    out = rt.cmd("events", "--stats", cid).stdout
    assert out.endswith("\n") and len(out.splitlines()) == 1
    ev = json.loads(out)
    assert ev["type"] == "stats" and ev["id"] == cid
    data = ev["data"]
    assert set(data) == {"cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"}
    res = rt.state_file(cid)["cgroup"]["resources"]
    assert data["pids"] == {"current": 2, "limit": res["pids"]["limit"]}
    assert data["memory"]["usage"]["limit"] == res["memory"]["limit"]
    assert data["cpu"]["usage"]["total"] > 0


def test_pause_resume_status_and_list(shared: tuple[Runtime, str]) -> None:
    rt, cid = shared
    m = rt.manager(cid)
    assert rt.status(cid) == "running"
    rt.cmd("pause", cid)
    try:
        assert rt.status(cid) == "paused"
        assert m.frozen()
        if m.driver == "fs1":
            assert _procs_states(m.pids()) == ["D", "D"]
        listing = rt.cmd("list", "--format", "json").stdout
        assert [c["status"] for c in json.loads(listing) if c["id"] == cid] == ["paused"]
        again = rt.cmd("pause", cid, check=False)
        assert again.returncode != 0 and "paused" in again.stderr
    finally:
        rt.cmd("resume", cid)
    assert rt.status(cid) == "running"
    assert not m.frozen()
    bad = rt.cmd("resume", cid, check=False)
    assert bad.returncode != 0 and "not paused" in bad.stderr


def _v(m: Manager, v1: tuple[str, str], v2: str) -> str:
    if m.driver == "fs1":
        return fsutil.read(m.paths[v1[0]], v1[1]).strip()
    return fsutil.read(m.dir, v2).strip()


def test_update_flags_and_resources_file(shared: tuple[Runtime, str]) -> None:
    rt, cid = shared
    m = rt.manager(cid)
    assert _v(m, ("memory", "memory.limit_in_bytes"), "memory.max") == str(64 << 20)
    rt.cmd("update", "--memory", "128m", "--pids-limit", "20", "--cpu-quota", "30000", cid)
    assert _v(m, ("memory", "memory.limit_in_bytes"), "memory.max") == str(128 << 20)
    assert _v(m, ("pids", "pids.max"), "pids.max") == "20"
    if m.driver == "fs1":
        assert _v(m, ("cpu", "cpu.cfs_quota_us"), "") == "30000"
        assert _v(m, ("cpu", "cpu.cfs_period_us"), "") == "100000"
    else:
        assert _v(m, ("", ""), "cpu.max") == "30000 100000"
    st = rt.state_file(cid)["cgroup"]["resources"]
    assert st["memory"]["limit"] == 128 << 20 and st["pids"]["limit"] == 20
    assert st["cpu"] == {"shares": 512, "quota": 30000, "period": 100000}
    doc = json.dumps({"cpu": {"shares": 256}, "pids": {"limit": 9}, "devices": [{"allow": True, "access": "rwm"}]})
    rt.cmd("update", "--resources", "-", cid, input=doc)
    assert _v(m, ("pids", "pids.max"), "pids.max") == "9"
    want_cpu = "256" if m.driver == "fs1" else "10"
    assert _v(m, ("cpu", "cpu.shares"), "cpu.weight") == want_cpu
    st = rt.state_file(cid)["cgroup"]["resources"]
    assert st["cpu"]["shares"] == 256 and st["devices"] == [{"allow": False, "access": "rwm"}]
    # a value the kernel refuses: one error line naming the file and value
    bad = rt.cmd("update", "--cpuset-cpus", "4095", cid, check=False)
    assert bad.returncode == 1
    assert "cpuset.cpus" in bad.stderr and "4095" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_delete_force_of_paused_container_removes_cgroup(rt: Runtime) -> None:
    cid = rt.run(["sh", "-c", "sleep 1000 & sleep 1000"])
    m = rt.manager(cid)
    _wait(lambda: len(m.pids()) == 2, "both processes")
    pids = m.pids()
    rt.cmd("pause", cid)
    rt.cmd("delete", "--force", cid)
    assert not m.exists()
    assert all(_gone(p) for p in pids)


def test_kill_all_then_delete(rt: Runtime) -> None:
    cid = rt.run(["sh", "-c", "(sleep 1000 &) ; sleep 1000 & sleep 1000"])
    m = rt.manager(cid)
    init = rt.state_file(cid)["pid"]
    _wait(lambda: len(m.pids()) >= 3, "processes")
    rt.cmd("kill", "--all", cid, "KILL")
    _wait(lambda: not m.pids() and _gone(init), "every process to die")
    assert rt.status(cid) == "stopped"
    rt.cmd("delete", cid)
    assert not m.exists()


def test_events_stream_reports_oom(rt: Runtime) -> None:
    limit = 24 << 20
    mem: dict = {"limit": limit, "swap": limit}
    cid = rt.run(["sleep", "1000"], {"memory": mem})
    env = dict(os.environ, PYTHONPATH=REPO)
    evp = subprocess.Popen(
        [sys.executable, "-m", "pyrunc", "--root", rt.root, "events", "--interval", "1s", cid],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        first = json.loads(evp.stdout.readline())  # the stream is up
        assert first["type"] == "stats"
        hog = rt.cmd("exec", cid, "sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\000' a); echo survived", check=False)
        assert "survived" not in hog.stdout
        seen = []
        for _ in range(200):
            line = evp.stdout.readline()
            if not line:
                break
            e = json.loads(line)
            seen.append(e["type"])
            if e["type"] == "oom":
                assert e == {"type": "oom", "id": cid}
                break
        assert "oom" in seen, seen
    finally:
        evp.kill()
        evp.wait()


def test_device_rules_and_pids_limit_enforced_in_container(rt: Runtime) -> None:
    cid = rt.run(["sleep", "1000"], {"pids": {"limit": 6}})
    script = (
        "mknod /tmp/null c 1 3 && mknod /tmp/kmsg c 1 11 && "
        "(echo x > /tmp/null && echo null-ok); "
        "(cat /tmp/kmsg >/dev/null 2>&1 && echo kmsg-ok || echo kmsg-denied)"
    )
    d = rt.cmd("exec", cid, "sh", "-c", script, check=False)
    assert d.stdout.split() == ["null-ok", "kmsg-denied"], d.stdout + d.stderr
    r = rt.cmd("exec", cid, "sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 1000 & done 2>&1; echo end", check=False)
    assert "fork" in (r.stdout + r.stderr).lower() or "resource" in (r.stdout + r.stderr).lower()
    m = rt.manager(cid)
    assert len(m.pids()) <= 6
