"""Terminals on real containers: a console-socket receiver (runc's protocol)
that checks the payload and drives the pty; consoleSize; `run` and `exec -t`
proxying the pty to pyrunc's own stdio, window size changes included."""
from __future__ import annotations

import array
import fcntl
import os
import select
import signal
import socket
import struct
import subprocess
import termios
import threading
import time


from tests.conftest import PYRUNC, new_id


class ConsoleReceiver:
    """Listens on a unix socket and accepts one pty master."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.master: int | None = None
        self.payload = b""
        self._t = threading.Thread(target=self._accept, daemon=True)
        self._t.start()

    def _accept(self) -> None:
        self.sock.settimeout(60)
        conn, _ = self.sock.accept()
        with conn:
            fds = array.array("i")
            msg, anc, _f, _a = conn.recvmsg(4096, socket.CMSG_SPACE(4 * fds.itemsize))
            for level, typ, data in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    fds.frombytes(data)
            self.payload = msg
            self.master = fds[0] if fds else None

    def wait(self) -> int:
        self._t.join(60)
        assert self.master is not None, "no pty master received"
        return self.master

    def close(self) -> None:
        self.sock.close()
        if self.master is not None:
            os.close(self.master)


def read_until(fd: int, want: bytes, timeout: float = 20) -> bytes:
    buf = b""
    deadline = time.monotonic() + timeout
    while want not in buf and time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            buf += data
    return buf


def winsize(fd: int) -> tuple[int, int]:
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return rows, cols




def tty_config(args, size=None):
    def edit(c):
        c["process"]["terminal"] = True
        c["process"]["args"] = args
        if size:
            c["process"]["consoleSize"] = {"height": size[0], "width": size[1]}

    return edit


def test_create_sends_the_master_over_the_console_socket(pyrunc, make_bundle, console_receiver):
    cid = new_id("tty")
    b = make_bundle(edit=tty_config(["sh", "-c", "tty; stty size; ls -l /dev/console; read x; echo got:$x; exit 3"],
                                     size=(31, 97)))
    r = console_receiver()
    try:
        pyrunc("create", "--console-socket", r.path, "-b", str(b.path), cid, check=True)
        master = r.wait()
        # the payload is the pty's path inside the container
        assert r.payload.startswith(b"/dev/pts/")
        n = int(r.payload[len(b"/dev/pts/"):])
        assert winsize(master) == (31, 97)  # consoleSize applied before the process runs
        pyrunc("start", cid, check=True)
        out = read_until(master, b"/dev/console")
        assert out.startswith(r.payload + b"\r\n")
        assert b"31 97\r\n" in out
        # /dev/console is the same pty (major 136, minor n)
        assert f"136, {n:>3}".encode() in out or f"136,{n}".encode() in out.replace(b" ", b"")
        os.write(master, b"typed\n")
        out = read_until(master, b"got:typed")
        assert b"got:typed" in out
        deadline = time.monotonic() + 20
        while pyrunc.state(cid)["status"] != "stopped" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pyrunc.state(cid)["status"] == "stopped"
    finally:
        pyrunc("delete", "--force", cid)


def test_create_refuses_bad_terminal_combinations(pyrunc, make_bundle, tmp_path):
    cid = new_id("tty")
    b = make_bundle(edit=tty_config(["true"]))
    p = pyrunc("create", "-b", str(b.path), cid)
    assert p.returncode != 0 and "cannot allocate tty if pyrunc will detach without setting console socket" in p.stderr
    p = pyrunc("run", "-d", "-b", str(b.path), cid)
    assert p.returncode != 0 and "console socket" in p.stderr
    b2 = make_bundle(["true"])
    p = pyrunc("create", "--console-socket", str(tmp_path / "x.sock"), "-b", str(b2.path), cid)
    assert p.returncode != 0 and "cannot use console socket if pyrunc will not detach or allocate tty" in p.stderr
    assert pyrunc.ids() == []


def test_exec_tty_detached_with_console_socket(pyrunc, make_bundle, console_receiver):
    cid = new_id("tty")
    b = make_bundle(["sleep", "1000"])
    r = console_receiver()
    try:
        pyrunc("run", "-d", "-b", str(b.path), cid, check=True)
        p = pyrunc("exec", "-t", "-d", "--console-socket", r.path, cid, "sh", "-c",
                   "tty; read line; echo echoed:$line")
        assert p.returncode == 0, p.stderr
        master = r.wait()
        assert r.payload.startswith(b"/dev/pts/")
        out = read_until(master, b"\n")
        assert out.strip() == r.payload
        os.write(master, b"abc\n")
        assert b"echoed:abc" in read_until(master, b"echoed:abc")
    finally:
        pyrunc("delete", "--force", cid)


def run_under_pty(argv: list[str], size: tuple[int, int]) -> tuple[subprocess.Popen, int]:
    """Start argv with a fresh pty as its stdio (its controlling terminal)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))

    def ctty() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                         preexec_fn=ctty)
    os.close(slave)
    return p, master


def test_run_proxies_the_pty_and_window_size(pyrunc, make_bundle):
    cid = new_id("tty")
    b = make_bundle(edit=tty_config(["sh", "-c", "tty; stty size; read x; stty size; echo got:$x; exit 5"]))
    p, master = run_under_pty([*PYRUNC, "--root", str(pyrunc.root), "run", "-b", str(b.path), cid], (24, 80))
    try:
        out = read_until(master, b"24 80")
        assert b"/dev/pts/" in out and b"24 80" in out  # the caller's size, copied at start
        # a resize of the caller's terminal reaches the container's pty
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 132, 0, 0))
        os.kill(p.pid, signal.SIGWINCH)  # what the kernel sends the foreground group
        time.sleep(0.2)
        os.write(master, b"hi\r")
        out = read_until(master, b"got:hi")
        assert b"50 132" in out and b"got:hi" in out
        assert p.wait(timeout=30) == 5
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
        pyrunc("delete", "--force", cid)
    assert pyrunc.ids() == []


def test_run_tty_restores_the_callers_terminal(pyrunc, make_bundle):
    cid = new_id("tty")
    b = make_bundle(edit=tty_config(["true"]))
    master, slave = os.openpty()
    before = termios.tcgetattr(slave)
    try:
        p = subprocess.run([*PYRUNC, "--root", str(pyrunc.root), "run", "-b", str(b.path), cid],
                           stdin=slave, stdout=slave, stderr=slave, timeout=60)
        assert p.returncode == 0
        assert termios.tcgetattr(slave) == before  # raw mode undone
    finally:
        os.close(master)
        os.close(slave)
        pyrunc("delete", "--force", cid)


def test_exec_tty_foreground_proxy(pyrunc, make_bundle):
    cid = new_id("tty")
    b = make_bundle(["sleep", "1000"])
    try:
        pyrunc("run", "-d", "-b", str(b.path), cid, check=True)
        p, master = run_under_pty([*PYRUNC, "--root", str(pyrunc.root), "exec", "-t", cid, "sh", "-c",
                                   "tty; stty size; read x; echo got:$x; exit 9"], (33, 111))
        try:
            out = read_until(master, b"33 111")
            assert b"/dev/pts/" in out and b"33 111" in out
            os.write(master, b"zz\r")
            assert b"got:zz" in read_until(master, b"got:zz")
            assert p.wait(timeout=30) == 9
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            os.close(master)
    finally:
        pyrunc("delete", "--force", cid)
