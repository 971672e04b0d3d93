"""CVE-2024-21626: a host fd leaked into the container, reachable through
process.cwd = /proc/self/fd/N (or exec --cwd), gives the container the
host's filesystem.  Every fd the container's process holds is listed from
inside (run, create/start, exec), the init's fds at the start gate are
inspected from the host, and every cwd trick must leave the process inside
the rootfs or fail with one clean line."""
from __future__ import annotations

import os
import re
import stat

import pytest

from tests.conftest import new_id
from tests.hardening.helpers import wait_for

# `ls` runs as the shell's child: /proc/$$/fd lists the shell's own fds
# (a command substitution would add its pipe)
LIST_FDS = "ls -l /proc/$$/fd"
# From the cwd, climb as far as `..` goes: inside the container that is its
# root (where the marker is); from a leaked host directory it is the host's.
WHERE = "cd ../../../../../../../../.. && if test -e inside-marker; then echo INSIDE; else echo ESCAPED; ls; fi"
LEAKY_CWDS = ([f"/proc/self/fd/{n}" for n in range(3, 11)]
              + ["/proc/thread-self/fd/3", "/proc/1/fd/3", "/proc/self/cwd", "/proc/1/root/.."])


def fds_of(output: str) -> dict[str, str]:
    """fd -> target from `ls -l` lines: '... 3 -> /some/where'."""
    found = {}
    for line in output.splitlines():
        m = re.search(r" (\d+) -> (.*)$", line)
        if m:
            found[m.group(1)] = m.group(2)
    assert found, output
    return found


def assert_only_stdio(output: str) -> None:
    fds = fds_of(output)
    assert sorted(fds) == ["0", "1", "2"], fds


def marked(make_bundle, args, edit=None):
    b = make_bundle(args, edit)
    (b.rootfs / "inside-marker").write_text("")
    return b


def test_run_process_holds_only_stdio(pyrunc, make_bundle):
    b = make_bundle(["sh", "-c", LIST_FDS])
    p = pyrunc("run", "-b", str(b.path), new_id("fd"))
    assert p.returncode == 0, p.stderr
    assert_only_stdio(p.stdout)


def test_create_start_process_holds_only_stdio(pyrunc, make_bundle, tmp_path):
    b = make_bundle(["sh", "-c", LIST_FDS])
    cid = new_id("fd")
    out = tmp_path / "out"
    with open(out, "w") as f:
        p = pyrunc("create", "-b", str(b.path), cid, stdout=f, stderr=f, stdin=open(os.devnull))
    assert p.returncode == 0, out.read_text()
    try:
        init = pyrunc.state(cid)["pid"]
        rootfs = os.stat(b.rootfs)
        host_proc = os.stat("/proc")
        # the init at the start gate, seen from the host: no directory but
        # the container's root, nothing of the host's /proc
        for n in os.listdir(f"/proc/{init}/fd"):
            st = os.stat(f"/proc/{init}/fd/{n}")
            target = os.readlink(f"/proc/{init}/fd/{n}")
            assert st.st_dev != host_proc.st_dev, f"fd {n} of the init is in the host's /proc: {target}"
            if stat.S_ISDIR(st.st_mode):
                assert (st.st_dev, st.st_ino) == (rootfs.st_dev, rootfs.st_ino), f"init holds dir fd {n}: {target}"
        pyrunc("start", cid, check=True)
        wait_for(lambda: pyrunc.state(cid)["status"] == "stopped", what="the container to exit")
    finally:
        pyrunc("delete", "--force", cid)
    assert_only_stdio(out.read_text())


def test_exec_process_holds_only_stdio(pyrunc, make_bundle):
    b = make_bundle(["sleep", "1000"], lambda c: c["root"].__setitem__("readonly", False))
    cid = new_id("fd")
    pyrunc("run", "-d", "-b", str(b.path), cid, check=True)
    try:
        p = pyrunc("exec", cid, "sh", "-c", LIST_FDS)
        assert p.returncode == 0, p.stderr
        assert_only_stdio(p.stdout)
        p = pyrunc("exec", "-d", cid, "sh", "-c", f"{LIST_FDS} > /tmp/fds")  # detached too
        assert p.returncode == 0, p.stderr
        wait_for(lambda: pyrunc("exec", cid, "cat", "/tmp/fds").stdout.strip() != "", what="detached exec")
        assert_only_stdio(pyrunc("exec", cid, "cat", "/tmp/fds").stdout)
    finally:
        pyrunc("delete", "--force", cid)


def check_cwd_outcome(p, cwd: str) -> None:
    if p.returncode == 0:
        assert "ESCAPED" not in p.stdout, f"cwd {cwd} reached the host: {p.stdout}"
        assert "INSIDE" in p.stdout, (cwd, p.stdout, p.stderr)
    else:
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
        assert "ESCAPED" not in p.stdout


@pytest.mark.parametrize("cwd", LEAKY_CWDS)
def test_run_cwd_through_proc_stays_inside(pyrunc, make_bundle, cwd):
    def edit(c):
        c["process"]["cwd"] = cwd
    b = marked(make_bundle, ["sh", "-c", WHERE], edit)
    check_cwd_outcome(pyrunc("run", "-b", str(b.path), new_id("cwd")), cwd)


@pytest.mark.parametrize("n", range(3, 11))
def test_create_start_cwd_through_proc_fd_stays_inside(pyrunc, make_bundle, tmp_path, n):
    """With a start gate the init holds more fds (exec.fifo, exec.reply)."""
    cwd = f"/proc/self/fd/{n}"

    def edit(c):
        c["process"]["cwd"] = cwd
    b = marked(make_bundle, ["sh", "-c", WHERE], edit)
    cid = new_id("cwd")
    out = tmp_path / "out"
    with open(out, "w") as f:
        p = pyrunc("create", "-b", str(b.path), cid, stdout=f, stderr=f, stdin=open(os.devnull))
    try:
        if p.returncode == 0:
            s = pyrunc("start", cid)
            if s.returncode == 0:
                wait_for(lambda: pyrunc.state(cid)["status"] == "stopped", what="exit")
                text = out.read_text()
                assert "ESCAPED" not in text, text
                assert "INSIDE" in text, text
            else:
                assert len(s.stderr.strip().splitlines()) == 1, s.stderr
        else:
            assert "ESCAPED" not in out.read_text()
    finally:
        pyrunc("delete", "--force", cid)


def test_exec_cwd_through_proc_stays_inside(pyrunc, make_bundle):
    b = marked(make_bundle, ["sleep", "1000"])
    cid = new_id("cwd")
    pyrunc("run", "-d", "-b", str(b.path), cid, check=True)
    try:
        for cwd in LEAKY_CWDS:
            check_cwd_outcome(pyrunc("exec", "--cwd", cwd, cid, "sh", "-c", WHERE), cwd)
    finally:
        pyrunc("delete", "--force", cid)
