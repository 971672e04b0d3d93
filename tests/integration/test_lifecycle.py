"""The runtime-spec lifecycle on real busybox containers: create, start,
state, kill, delete, run; status transitions and their errors."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.conftest import cgroup_dirs_named, mounts_mentioning, new_id


def wait_status(rt, cid, want, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = rt.state(cid)["status"]
        if st == want:
            return
        time.sleep(0.02)
    raise AssertionError(f"{cid} never reached {want}, is {st}")


def test_run_prints_and_exits_with_status(pyrunc, make_bundle):
    b = make_bundle(["sh", "-c", "echo hello from $(hostname); exit 7"])
    p = pyrunc("run", "--bundle", str(b.path), new_id())
    assert p.stdout == "hello from runc\n"
    assert p.returncode == 7


def test_run_exit_status_after_signal_is_128_plus_n(pyrunc, make_bundle):
    # pid 1 ignores signals from inside its namespace: kill it from outside.
    import subprocess
    import sys

    cid = new_id()
    b = make_bundle(["sleep", "100"])
    proc = subprocess.Popen([sys.executable, "-m", "pyrunc", "--root", str(pyrunc.root), "run", "-b", str(b.path), cid])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            p = pyrunc("state", cid)
            if p.returncode == 0 and json.loads(p.stdout)["status"] == "running":
                break
            time.sleep(0.05)
        pyrunc("kill", cid, "KILL", check=True)
        assert proc.wait(timeout=10) == 128 + 9
    finally:
        proc.kill()
        proc.wait()


def test_create_start_state_kill_delete(pyrunc, make_bundle, tmp_path):
    cid = new_id()
    b = make_bundle(["sleep", "100"])
    pidfile = tmp_path / "pid"
    pyrunc("create", "--bundle", str(b.path), "--pid-file", str(pidfile), cid, check=True)
    st = pyrunc.state(cid)
    assert st["status"] == "created"
    assert st["id"] == cid and st["bundle"] == str(b.path) and st["ociVersion"] == "1.3.0"
    assert pidfile.read_text() == str(st["pid"])  # decimal, no newline
    # the init waits at the gate inside its own root and pid namespace
    assert os.readlink(f"/proc/{st['pid']}/root") == "/"
    assert os.readlink(f"/proc/{st['pid']}/ns/pid") != os.readlink("/proc/self/ns/pid")
    with open(f"/proc/{st['pid']}/cmdline", "rb") as f:
        assert b"sleep" not in f.read()  # not exec'd yet
    # the init is alone in every cgroup it joined: nothing create forked
    # on the way (the grace-period warmer, the launcher) stayed behind
    dirs = cgroup_dirs_named(cid)
    assert dirs
    for d in dirs:
        with open(os.path.join(d, "cgroup.procs")) as f:
            assert f.read().split() == [str(st["pid"])], d
    pyrunc("start", cid, check=True)
    assert pyrunc.state(cid)["status"] == "running"
    with open(f"/proc/{st['pid']}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[0] == b"sleep"
    p = pyrunc("start", cid)
    assert p.returncode != 0 and "running" in p.stderr
    p = pyrunc("delete", cid)
    assert p.returncode != 0 and "not stopped" in p.stderr
    pyrunc("kill", cid, "KILL", check=True)
    wait_status(pyrunc, cid, "stopped")
    assert "pid" not in pyrunc.state(cid)
    p = pyrunc("start", cid)
    assert p.returncode != 0 and "stopped" in p.stderr
    p = pyrunc("kill", cid)
    assert p.returncode != 0 and "container not running" in p.stderr
    pyrunc("delete", cid, check=True)
    p = pyrunc("state", cid)
    assert p.returncode != 0 and "container does not exist" in p.stderr
    assert cgroup_dirs_named(cid) == []
    assert mounts_mentioning(str(b.path)) == []


@pytest.mark.parametrize("sig", ["TERM", "SIGTERM", "15"])
def test_kill_signal_names(pyrunc, make_bundle, sig):
    cid = new_id()
    b = make_bundle(["sh", "-c", "trap 'exit 3' TERM; while true; do sleep 0.05; done"])
    pyrunc("run", "-d", "-b", str(b.path), cid, check=True)
    time.sleep(0.2)
    pyrunc("kill", cid, sig, check=True)
    wait_status(pyrunc, cid, "stopped")
    pyrunc("delete", cid, check=True)


def test_kill_created_container_and_delete_created(pyrunc, make_bundle):
    cid = new_id()
    b = make_bundle(["sleep", "100"])
    pyrunc("create", "-b", str(b.path), cid, check=True)
    pid = pyrunc.state(cid)["pid"]
    pyrunc("delete", cid, check=True)  # runc deletes a created container
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_delete_force_running_and_twice(pyrunc, make_bundle):
    cid = new_id()
    b = make_bundle(["sleep", "100"])
    pyrunc("run", "-d", "-b", str(b.path), cid, check=True)
    pid = pyrunc.state(cid)["pid"]
    pyrunc("delete", "--force", cid, check=True)
    assert pyrunc("delete", "--force", cid).returncode == 0  # gone already: still 0
    assert pyrunc("delete", cid).returncode != 0
    assert not os.path.exists(f"/proc/{pid}/cmdline") or open(f"/proc/{pid}/cmdline").read() == ""
    assert cgroup_dirs_named(cid) == []


def test_list_formats(pyrunc, make_bundle):
    ids = [new_id(), new_id()]
    b = make_bundle(["sleep", "100"])
    for cid in ids:
        pyrunc("create", "-b", str(b.path), cid, check=True)
    rows = json.loads(pyrunc("list", "--format", "json", check=True).stdout)
    assert sorted(r["id"] for r in rows) == sorted(ids)
    assert all(r["status"] == "created" and r["pid"] > 0 for r in rows)
    assert pyrunc("list", "-q", check=True).stdout.split() == sorted(ids)
    table = pyrunc("list", check=True).stdout.splitlines()
    assert table[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    for cid in ids:
        pyrunc("delete", "--force", cid, check=True)


def test_reused_pid_is_not_the_container(pyrunc, make_bundle):
    """A stored pid whose start time differs is a different process."""
    cid = new_id()
    b = make_bundle(["true"])
    pyrunc("create", "-b", str(b.path), cid, check=True)
    state_file = pyrunc.root / cid / "state.json"
    st = json.loads(state_file.read_text())
    real = st["pid"]
    st["pid"] = os.getpid()  # alive, but not the container's init
    state_file.write_text(json.dumps(st))
    assert pyrunc.state(cid)["status"] == "stopped"
    st["pid"] = real
    state_file.write_text(json.dumps(st))
    pyrunc("delete", "--force", cid, check=True)


def test_run_forwards_signals(pyrunc, make_bundle):
    import subprocess
    import sys

    cid = new_id()
    b = make_bundle(["sh", "-c", "trap 'echo got-usr1; exit 5' USR1; while true; do sleep 0.05; done"])
    proc = subprocess.Popen([sys.executable, "-m", "pyrunc", "--root", str(pyrunc.root), "run", "-b", str(b.path), cid],
                            stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            p = pyrunc("state", cid)
            if p.returncode == 0 and json.loads(p.stdout)["status"] == "running":
                break
            time.sleep(0.05)
        time.sleep(0.2)
        proc.send_signal(signal.SIGUSR1)
        out, _ = proc.communicate(timeout=10)
        assert "got-usr1" in out
        assert proc.returncode == 5
    finally:
        proc.kill()
        proc.wait()


def test_pid_file_is_written_atomically_and_relative(pyrunc, make_bundle, tmp_path):
    cid = new_id()
    b = make_bundle(["true"])
    pyrunc("create", "-b", str(b.path), "--pid-file", "p.pid", cid, check=True, cwd=tmp_path)
    assert (tmp_path / "p.pid").read_text() == str(pyrunc.state(cid)["pid"])
    assert not [f for f in os.listdir(tmp_path) if ".tmp" in f]
    pyrunc("delete", "--force", cid, check=True)
