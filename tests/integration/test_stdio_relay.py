"""`run` and `exec` in the foreground without a terminal give the process
pipes of their own and copy between them and the caller's stdio, as runc
does: the process sees pipes whatever the caller has (a terminal, a file),
and a non-root user can reopen /dev/stdout even when the caller's stdout is
a root-owned file.  Compared with runc on the same bundle."""
from __future__ import annotations

import hashlib
import os
import subprocess

import pytest

from tests.conftest import new_id

PROBE = ("for i in 0 1 2; do [ -t $i ] && echo tty$i || echo notty$i; done; "
         "ls -l /proc/self/fd/0 /proc/self/fd/1 | grep -c pipe:; "
         "echo via-dev-stdout > /dev/stdout && echo via-dev-stderr > /dev/stderr; exit 7")


def user_bundle(make_bundle, args):
    def edit(c):
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
    return make_bundle(args, edit)


def run_to_files(rt, args, tmp_path, name, stdin=subprocess.DEVNULL):
    out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    with open(out, "wb") as o, open(err, "wb") as e:
        os.chmod(out, 0o644)  # root-owned, not writable by uid 1000
        rc = subprocess.run([*rt.argv, "--root", str(rt.root), *args], stdin=stdin, stdout=o, stderr=e,
                            timeout=60).returncode
    return rc, out.read_text(), err.read_text()


def test_run_gives_the_process_pipes(pyrunc, runc, make_bundle, tmp_path):
    b = user_bundle(make_bundle, ["sh", "-c", PROBE])
    got = {}
    for name, rt in (("runc", runc), ("pyrunc", pyrunc)):
        got[name] = run_to_files(rt, ["run", "-b", str(b.path), new_id("relay")], tmp_path, name)
    assert got["pyrunc"] == got["runc"]
    rc, out, err = got["pyrunc"]
    assert rc == 7
    assert out.split() == ["notty0", "notty1", "notty2", "2", "via-dev-stdout"]
    assert err.strip() == "via-dev-stderr"


def test_run_from_a_terminal_is_not_a_tty(pyrunc, runc, make_bundle, tmp_path):
    """The caller's stdio is a terminal; the process (terminal: false) sees pipes."""
    b = make_bundle(["sh", "-c", "[ -t 0 ] && echo tty || echo notty; [ -t 1 ] && echo tty || echo notty"])
    outs = {}
    for name, rt in (("runc", runc), ("pyrunc", pyrunc)):
        master, slave = os.openpty()
        try:
            p = subprocess.run([*rt.argv, "--root", str(rt.root), "run", "-b", str(b.path), new_id("relay")],
                               stdin=slave, stdout=slave, stderr=subprocess.PIPE, timeout=60)
            assert p.returncode == 0, p.stderr
            os.close(slave)
            slave = -1
            data = b""
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
        finally:
            if slave >= 0:
                os.close(slave)
            os.close(master)
        outs[name] = data.decode().split()
    assert outs["pyrunc"] == outs["runc"] == ["notty", "notty"]


def test_large_stdin_and_stdout_pass_intact(pyrunc, runc, make_bundle, tmp_path):
    """4 MiB through `cat` and back: nothing lost or reordered."""
    payload = os.urandom(4 << 20)
    src = tmp_path / "payload"
    src.write_bytes(payload)
    b = make_bundle(["cat"])
    for name, rt in (("runc", runc), ("pyrunc", pyrunc)):
        out = tmp_path / f"{name}.cat"
        with open(src, "rb") as i, open(out, "wb") as o:
            rc = subprocess.run([*rt.argv, "--root", str(rt.root), "run", "-b", str(b.path), new_id("relay")],
                                stdin=i, stdout=o, stderr=subprocess.PIPE, timeout=120).returncode
        assert rc == 0
        assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(payload).hexdigest(), name


def test_exec_gives_the_process_pipes(pyrunc, runc, make_bundle, tmp_path):
    b = make_bundle(["sleep", "1000"])
    got = {}
    for name, rt in (("runc", runc), ("pyrunc", pyrunc)):
        cid = new_id("relay")
        rt("run", "-d", "-b", str(b.path), cid, check=True)
        try:
            got[name] = run_to_files(rt, ["exec", "--user", "1000:1000", cid, "sh", "-c", PROBE], tmp_path,
                                     name)
        finally:
            rt("delete", "--force", cid)
    assert got["pyrunc"] == got["runc"]
    assert got["pyrunc"][0] == 7
    assert "via-dev-stdout" in got["pyrunc"][1]


@pytest.mark.parametrize("detached", [True])
def test_detached_run_passes_stdio_through(pyrunc, make_bundle, tmp_path, detached):
    """-d: the process inherits the caller's stdio (runc too): no relay."""
    b = make_bundle(["sh", "-c", "readlink /proc/self/fd/1"])
    out = tmp_path / "d.out"
    with open(out, "wb") as o:
        cid = new_id("relay")
        subprocess.run([*pyrunc.argv, "--root", str(pyrunc.root), "run", "-d", "-b", str(b.path), cid],
                       stdin=subprocess.DEVNULL, stdout=o, stderr=subprocess.PIPE, timeout=60, check=True)
    for _ in range(200):
        if out.read_text():
            break
        import time

        time.sleep(0.01)
    pyrunc("delete", "--force", cid)
    assert out.read_text().strip().endswith("d.out")
