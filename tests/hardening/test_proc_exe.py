"""CVE-2019-5736: overwriting a host binary through /proc/PID/exe or
/proc/PID/map_files of a runtime process visible inside the container.

pyrunc's processes that a container can see are its init before execve
(waiting at the start gate) and the exec helper's child before execve.
Both run pyrunc-init, a static binary executed from a sealed memfd and made
non-dumpable: the attacker, with the container's root identity and
capabilities (and, in a second round, with every capability), never gets a
writable handle on a host file, before or after the helper execs.  The
host's Python, its libraries and pyrunc's own binaries are hashed before
and after."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import new_id
from tests.hardening.helpers import hashes, host_binaries, wait_for

ATTACKER = Path(__file__).with_name("attacker.py")
CONTAINER_CAPS = "CAP_AUDIT_WRITE,CAP_KILL,CAP_NET_BIND_SERVICE"  # the default spec's


def ns_pid(host_pid: int) -> int:
    with open(f"/proc/{host_pid}/status") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    raise AssertionError("no NSpid")


def host_view(pid: int) -> dict[str, str]:
    """/proc/PID/exe and map_files targets as the host sees them."""
    out = {"exe": os.readlink(f"/proc/{pid}/exe")}
    for n in os.listdir(f"/proc/{pid}/map_files"):
        out[n] = os.readlink(f"/proc/{pid}/map_files/{n}")
    return out


def assert_runs_from_sealed_memfd(pid: int) -> None:
    view = host_view(pid)
    for k, target in view.items():
        assert target.startswith("/memfd:pyrunc-init"), f"{k} of pid {pid} maps a host file: {target}"


class Attack:
    """The attacker running in the container's namespaces."""

    def __init__(self, init_pid: int, caps: str, nspids: list[int]) -> None:
        self.p = subprocess.Popen([sys.executable, str(ATTACKER), str(init_pid), caps, *map(str, nspids)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        assert line.startswith("grabbed"), (line, self.p.stderr.read() if self.p.poll() is not None else "")

    def finish(self) -> dict:
        out, err = self.p.communicate("go\n", timeout=60)
        assert self.p.returncode == 0, err
        return json.loads(out)

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


@pytest.fixture(scope="module")
def binaries():
    paths = host_binaries()
    assert any("libpython" in p for p in paths) or not any("libpython" in l for l in open("/proc/self/maps"))
    assert any(p.endswith("pyrunc-init") for p in paths)
    before = hashes(paths)
    yield paths
    assert hashes(paths) == before, "a host binary changed"


@pytest.mark.parametrize("caps", [CONTAINER_CAPS, "ALL"], ids=["container-caps", "all-caps"])
def test_init_at_the_start_gate(pyrunc, make_bundle, binaries, caps):
    b = make_bundle(["sleep", "1000"])
    cid = new_id("exe")
    pyrunc("create", "-b", str(b.path), cid, check=True)
    init = pyrunc.state(cid)["pid"]
    assert_runs_from_sealed_memfd(init)
    attack = Attack(init, caps, [ns_pid(init)])
    try:
        pyrunc("start", cid, check=True)  # the init execs `sleep` while handles are held
        wait_for(lambda: os.readlink(f"/proc/{init}/exe").endswith("busybox"), what="init exec")
        report = attack.finish()
    finally:
        attack.kill()
        pyrunc("delete", "--force", cid)
    assert report["opened_for_write"] == [], report
    assert report["memfd_written"] == [], report
    # sanity: the attack really looked at the init (with every cap it can see it)
    assert f"/proc/1/exe" in report["links"] or f"/proc/1/exe" in report["errors"]
    if caps == "ALL":
        # with CAP_SYS_PTRACE the non-dumpable barrier is passed: the seals hold
        assert "/proc/1/exe" in report["grabbed"], report
        assert report["memfd_refused"], report
    else:
        # without it the init is not even readable
        assert report["grabbed"] == [], report


def test_exec_from_a_created_container_cannot_write_the_init(pyrunc, make_bundle, binaries):
    """The attacker is a real `pyrunc exec` into a created container."""
    b = make_bundle(["sleep", "1000"])
    cid = new_id("exe")
    pyrunc("create", "-b", str(b.path), cid, check=True)
    try:
        script = ("for t in /proc/1/exe /proc/1/map_files/*; do "
                  "if (exec 3>>\"$t\") 2>/dev/null; then echo WROTE $t; fi; "
                  "if (exec 3<>\"$t\") 2>/dev/null; then echo WROTE $t; fi; done; echo done")
        for extra in ([], ["--cap", "CAP_SYS_PTRACE", "--cap", "CAP_SYS_ADMIN", "--cap", "CAP_DAC_OVERRIDE"]):
            p = pyrunc("exec", *extra, cid, "sh", "-c", script)
            assert p.returncode == 0, p.stderr
            assert "WROTE" not in p.stdout, p.stdout
            assert p.stdout.strip().endswith("done")
    finally:
        pyrunc("delete", "--force", cid)


@pytest.mark.parametrize("caps", [CONTAINER_CAPS, "ALL"], ids=["container-caps", "all-caps"])
def test_exec_helper_before_execve(pyrunc, make_bundle, binaries, tmp_path, caps):
    """An exec into a paused container (--ignore-paused) stops in the frozen
    cgroup after it joined every namespace and before execve: the helper is
    visible in the container for as long as the test wants."""
    b = make_bundle(["sleep", "1000"])
    cid = new_id("exe")
    pyrunc("run", "-d", "-b", str(b.path), cid, check=True)
    attack = None
    try:
        init = pyrunc.state(cid)["pid"]
        pyrunc("pause", cid, check=True)
        pidfile = tmp_path / "exec.pid"
        p = pyrunc("exec", "-d", "--ignore-paused", "--pid-file", str(pidfile), cid, "sleep", "999")
        assert p.returncode == 0, p.stderr
        helper = int(pidfile.read_text())
        wait_for(lambda: open(f"/proc/{helper}/stat").read().split(")")[1].split()[0] in "DST",
                 what="the exec helper to freeze")
        assert_runs_from_sealed_memfd(helper)
        attack = Attack(init, caps, [ns_pid(helper)])
        pyrunc("resume", cid, check=True)
        wait_for(lambda: os.readlink(f"/proc/{helper}/exe").endswith("busybox"), what="the helper's exec")
        report = attack.finish()
    finally:
        if attack:
            attack.kill()
        pyrunc("resume", cid)
        pyrunc("delete", "--force", cid)
    assert report["opened_for_write"] == [], report
    assert report["memfd_written"] == [], report
    if caps == "ALL":
        assert report["grabbed"] and report["memfd_refused"], report
    else:
        assert report["grabbed"] == [], report
