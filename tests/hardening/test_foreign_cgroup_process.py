"""A process that is not the container's, already in the cgroup the config
names (another tenant, a leftover), must never be killed by pyrunc.

runc creates such a container with a warning (`container's cgroup is not
empty: N process(es) found`) and its `delete --force` leaves the process
alone.  pyrunc records the processes found at create (pid and start time)
and, on delete, kill --all and a failed create, signals only what belongs
to the container: its init and its pid namespace, or without a pid
namespace of its own, the processes it started.  The cgroup is left in
place while the foreign process lives (runc fails to remove it and says
so; the container is deleted all the same).

Each test fails if the guard is removed: the foreign process would die."""
from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid

import pytest

from tests.conftest import new_id
from tests.hardening.helpers import assert_nothing_left

WARNING = "container's cgroup is not empty: 1 process(es) found"


def cgroup_roots() -> list[str]:
    """Mount points of every cgroup hierarchy with processes (v1 and v2)."""
    roots = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            fstype = fields[fields.index("-") + 1]
            if fstype in ("cgroup", "cgroup2") and os.path.exists(os.path.join(fields[4], "cgroup.procs")):
                roots.append(fields[4])
    return roots


class ForeignProcess:
    """A sleeping process put into /<name> of every hierarchy before the
    container is created."""

    def __init__(self) -> None:
        self.name = f"pyrunc-foreign-{uuid.uuid4().hex[:8]}"
        self.dirs = [os.path.join(r, self.name) for r in cgroup_roots()]
        self.proc = subprocess.Popen(["sleep", "1000"], start_new_session=True)
        try:
            for d in self.dirs:
                os.makedirs(d, exist_ok=True)
                for name in ("cpuset.cpus", "cpuset.mems"):  # v1 cpuset: empty until set
                    f = os.path.join(d, name)
                    if os.path.exists(f) and not open(f).read().strip():
                        with open(f, "w") as out:
                            out.write(open(os.path.join(os.path.dirname(d), name)).read().strip())
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write(str(self.proc.pid))
        except BaseException:
            self.cleanup()
            raise

    @property
    def path(self) -> str:
        return "/" + self.name

    def alive(self) -> bool:
        return self.proc.poll() is None

    def cleanup(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for d in self.dirs:
            for _ in range(100):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


@pytest.fixture
def foreign():
    fp = ForeignProcess()
    try:
        yield fp
    finally:
        fp.cleanup()


def bundle_in(make_bundle, foreign: ForeignProcess, args: list[str], pidns: bool = True):
    def edit(c):
        c["linux"]["cgroupsPath"] = foreign.path
        if not pidns:
            c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "pid"]
    return make_bundle(args, edit)


def create_started(pyrunc, b, cid: str) -> None:
    p = pyrunc("create", "-b", str(b.path), cid)
    assert p.returncode == 0, p.stderr
    assert WARNING in p.stderr, p.stderr  # runc's warning
    pyrunc("start", cid, check=True)


@pytest.mark.parametrize("how", ["delete-force", "init-killed-then-delete", "kill-all-then-delete"])
def test_delete_spares_a_process_that_predates_the_container(pyrunc, make_bundle, foreign, how):
    b = bundle_in(make_bundle, foreign, ["sh", "-c", "sleep 1000 & exec sleep 1000"])
    cid = new_id("fgn")
    create_started(pyrunc, b, cid)
    init = pyrunc.state(cid)["pid"]
    if how == "delete-force":
        pyrunc("delete", "--force", cid, check=True)
    elif how == "init-killed-then-delete":
        pyrunc("kill", cid, "KILL", check=True)
        for _ in range(500):
            if pyrunc.state(cid)["status"] == "stopped":
                break
            time.sleep(0.01)
        pyrunc("delete", cid, check=True)
    else:
        pyrunc("kill", "--all", cid, "KILL", check=True)
        pyrunc("delete", "--force", cid, check=True)
    assert foreign.alive(), "pyrunc killed a process that is not the container's"
    assert not os.path.exists(f"/proc/{init}") or open(f"/proc/{init}/stat").read().split()[2] == "Z"
    assert not (pyrunc.root / cid).exists()
    # only the foreign process is left in the cgroup
    for d in foreign.dirs:
        with open(os.path.join(d, "cgroup.procs")) as f:
            assert f.read().split() == [str(foreign.proc.pid)]


def test_without_pid_namespace_only_started_processes_die(pyrunc, make_bundle, foreign):
    """No pid namespace of its own: the container's processes are the
    cgroup's other processes (its init and the child it forked)."""
    b = bundle_in(make_bundle, foreign, ["sh", "-c", "sleep 1001 & exec sleep 1002"], pidns=False)
    cid = new_id("fgn")
    create_started(pyrunc, b, cid)
    time.sleep(0.2)
    pids = set()
    for d in foreign.dirs[:1]:
        with open(os.path.join(d, "cgroup.procs")) as f:
            pids = {int(x) for x in f.read().split()}
    assert len(pids) == 3, pids  # foreign + init + its child
    pyrunc("delete", "--force", cid, check=True)
    assert foreign.alive()
    for pid in pids - {foreign.proc.pid}:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_kill_all_signals_only_the_container(pyrunc, make_bundle, foreign):
    """kill --all TERM reaches the container's processes, not the foreign one
    (stricter than runc 1.1.5, which signals every pid of the cgroup)."""
    b = bundle_in(make_bundle, foreign, ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"])
    cid = new_id("fgn")
    create_started(pyrunc, b, cid)
    time.sleep(0.2)
    pyrunc("kill", "--all", cid, "TERM", check=True)
    time.sleep(0.3)
    assert foreign.alive()
    pyrunc("delete", "--force", cid, check=True)
    assert foreign.alive()


def test_failed_create_spares_it(pyrunc, make_bundle, foreign):
    """A create that fails in the init (here: /proc planted as a symlink)
    tears down what it made, and nothing else."""
    b = bundle_in(make_bundle, foreign, ["true"])
    (b.rootfs / "proc").rmdir()
    (b.rootfs / "proc").symlink_to("tmp")
    cid = new_id("fgn")
    p = pyrunc("create", "-b", str(b.path), cid)
    assert p.returncode != 0
    assert "must be mounted on ordinary directory" in p.stderr
    assert foreign.alive()
    assert not (pyrunc.root / cid).exists()


def test_runc_leaves_it_alone_too(runc, pyrunc, make_bundle, foreign):
    """The reference: runc's delete --force of a running container in that
    cgroup leaves the foreign process, as pyrunc does."""
    b = bundle_in(make_bundle, foreign, ["sleep", "1000"])
    for rt in (runc, pyrunc):
        cid = new_id("fgn")
        rt("run", "-d", "-b", str(b.path), cid, check=True)
        rt("delete", "--force", cid, check=True)
        assert foreign.alive(), rt.argv
    assert_nothing_left(pyrunc, cid)
