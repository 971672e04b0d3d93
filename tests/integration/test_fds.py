"""File descriptors into containers: --preserve-fds (run and exec),
LISTEN_FDS/LISTEN_PID socket activation passthrough, and NOTIFY_SOCKET
(sd_notify READY relayed to the caller's socket)."""
from __future__ import annotations

import array
import os
import shutil
import socket
import subprocess

import pytest

from tests.conftest import PYRUNC, new_id

SDNOTIFY_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
int main(int argc, char **argv) {
	const char *p = getenv("NOTIFY_SOCKET");
	if (!p || argc < 2) return 2;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	strncpy(a.sun_path, p, sizeof(a.sun_path) - 1);
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (sendto(s, argv[1], strlen(argv[1]), 0, (struct sockaddr *)&a, sizeof(a)) < 0) { perror("sendto"); return 1; }
	return 0;
}
"""


def with_fds(argv: list[str], files: dict[int, str], env: dict[str, str] | None = None,
             listen_self: int = 0) -> list[str]:
    """argv run through sh with `files` opened at the given fd numbers;
    with listen_self, LISTEN_PID is the pid argv runs as."""
    redir = " ".join(f"{fd}<'{path}'" for fd, path in files.items())
    pre = f"LISTEN_PID=$$ LISTEN_FDS={listen_self} " if listen_self else ""
    return ["sh", "-c", f'{pre}exec "$@" {redir}', "sh", *argv]


@pytest.fixture
def data_files(tmp_path):
    out = {}
    for i in (1, 2):
        p = tmp_path / f"data{i}"
        p.write_text(f"content-{i}\n")
        out[i] = str(p)
    return out


def fd_check_script(n: int) -> str:
    return (f"for fd in $(seq 3 {n}); do cat <&$fd; done;"
            f" [ -e /proc/self/fd/{n + 1} ] && echo leaked-{n + 1} || echo closed-{n + 1}")


def test_run_preserve_fds(pyrunc, make_bundle, data_files):
    cid = new_id("fd")
    b = make_bundle(["sh", "-c", fd_check_script(4)])
    try:
        argv = [*PYRUNC, "--root", str(pyrunc.root), "run", "--preserve-fds", "2", "-b", str(b.path), cid]
        p = subprocess.run(with_fds(argv, {3: data_files[1], 4: data_files[2], 5: data_files[1]}),
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert p.stdout == "content-1\ncontent-2\nclosed-5\n"
    finally:
        pyrunc("delete", "--force", cid)


def test_exec_preserve_fds(pyrunc, make_bundle, data_files):
    cid = new_id("fd")
    b = make_bundle(["sleep", "1000"])
    try:
        pyrunc("run", "-d", "-b", str(b.path), cid, check=True)
        argv = [*PYRUNC, "--root", str(pyrunc.root), "exec", "--preserve-fds", "1", cid, "sh", "-c",
                fd_check_script(3)]
        p = subprocess.run(with_fds(argv, {3: data_files[2], 4: data_files[1]}), capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr
        assert p.stdout == "content-2\nclosed-4\n"
        # without the flag nothing of the caller's leaks in
        argv = [*PYRUNC, "--root", str(pyrunc.root), "exec", cid, "sh", "-c", fd_check_script(2)]
        p = subprocess.run(with_fds(argv, {3: data_files[2]}), capture_output=True, text=True, timeout=60)
        assert p.stdout == "closed-3\n"
    finally:
        pyrunc("delete", "--force", cid)


def test_listen_fds_passthrough(pyrunc, make_bundle, data_files):
    cid = new_id("fd")
    script = "echo $LISTEN_FDS $LISTEN_PID; " + fd_check_script(4)
    b = make_bundle(["sh", "-c", script])
    try:
        # one activation fd (3), then one --preserve-fds fd (4)
        argv = [*PYRUNC, "--root", str(pyrunc.root), "run", "--preserve-fds", "1", "-b", str(b.path), cid]
        p = subprocess.run(with_fds(argv, {3: data_files[1], 4: data_files[2]}, listen_self=1),
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert p.stdout == "1 1\ncontent-1\ncontent-2\nclosed-5\n"
    finally:
        pyrunc("delete", "--force", cid)


def test_listen_fds_for_another_pid_are_ignored(pyrunc, make_bundle, data_files):
    cid = new_id("fd")
    b = make_bundle(["sh", "-c", "echo [$LISTEN_FDS]; " + fd_check_script(2)])
    try:
        argv = [*PYRUNC, "--root", str(pyrunc.root), "run", "-b", str(b.path), cid]
        env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID="1")
        p = subprocess.run(with_fds(argv, {3: data_files[1]}), env=env, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert p.stdout == "[]\nclosed-3\n"
    finally:
        pyrunc("delete", "--force", cid)


@pytest.fixture(scope="session")
def sdnotify_bin(tmp_path_factory):
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler for the sd_notify test client")
    d = tmp_path_factory.mktemp("sdnotify")
    (d / "sdnotify.c").write_text(SDNOTIFY_C)
    subprocess.run([cc, "-static", "-O2", "-o", str(d / "sdnotify"), str(d / "sdnotify.c")], check=True)
    return d / "sdnotify"


@pytest.fixture
def notify_socket(tmp_path):
    path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.setblocking(False)
    yield path, s
    s.close()


def received(s: socket.socket) -> list[bytes]:
    """Datagrams already queued (non-blocking), closing any fds they carry."""
    out = []
    while True:
        fds = array.array("i")
        try:
            msg, anc, _f, _a = s.recvmsg(4096, socket.CMSG_SPACE(4 * fds.itemsize))
        except BlockingIOError:
            return out
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds.frombytes(data)
        for fd in fds:
            os.close(fd)  # BARRIER=1's pipe: closing it acknowledges
        out.append(msg)


def notify_bundle(make_bundle, sdnotify_bin, script):
    b = make_bundle(["sh", "-c", script])
    shutil.copy(sdnotify_bin, b.rootfs / "bin" / "sdnotify")
    return b


def test_notify_socket_ready_reaches_the_caller_on_start(pyrunc, make_bundle, sdnotify_bin, notify_socket):
    path, s = notify_socket
    cid = new_id("nt")
    b = notify_bundle(make_bundle, sdnotify_bin, "sdnotify READY=1; sleep 1000")
    env = dict(os.environ, NOTIFY_SOCKET=path)
    try:
        pyrunc("create", "-b", str(b.path), cid, check=True, env=env)
        init = pyrunc.state(cid)["pid"]
        assert received(s) == []
        pyrunc("start", cid, check=True, env=env)
        # start returned only once READY was relayed: it is already queued
        msgs = received(s)
        assert msgs[:2] == [b"READY=1\n", f"MAINPID={init}\n".encode()]
        assert msgs[2:] == [b"BARRIER=1\n"]
        # the process's env points at the socket bound inside (exec inherits it)
        p = pyrunc("exec", cid, "sh", "-c", "echo $NOTIFY_SOCKET; [ -S $NOTIFY_SOCKET ] && echo socket")
        assert p.stdout == "/run/notify/notify.sock\nsocket\n", p.stderr
    finally:
        pyrunc("delete", "--force", cid)


def test_notify_socket_run_detached(pyrunc, make_bundle, sdnotify_bin, notify_socket):
    path, s = notify_socket
    cid = new_id("nt")
    b = notify_bundle(make_bundle, sdnotify_bin, "sdnotify STATUS=starting; sdnotify READY=1; sleep 1000")
    env = dict(os.environ, NOTIFY_SOCKET=path)
    try:
        pyrunc("run", "-d", "-b", str(b.path), cid, check=True, env=env)
        init = pyrunc.state(cid)["pid"]
        msgs = received(s)
        assert b"READY=1\n" in msgs and f"MAINPID={init}\n".encode() in msgs
        assert b"STATUS=starting\n" not in msgs  # only READY is relayed, as runc does
    finally:
        pyrunc("delete", "--force", cid)


def test_without_notify_socket_nothing_is_mounted(pyrunc, make_bundle):
    cid = new_id("nt")
    b = make_bundle(["sh", "-c", "echo [$NOTIFY_SOCKET]; [ -e /run/notify ] && echo mounted || echo none"])
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    try:
        p = pyrunc("run", "-b", str(b.path), cid, env=env)
        assert p.returncode == 0, p.stderr
        assert p.stdout == "[]\nnone\n"
    finally:
        pyrunc("delete", "--force", cid)
