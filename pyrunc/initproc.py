"""Starting pyrunc-init and talking to it over the sync socket.

The init program is copied into a sealed memfd and executed from there, so
/proc/<init>/exe, seen from inside the container before execve, is a
read-only anonymous copy, never a host file (CVE-2019-5736)."""
from __future__ import annotations

import _signal
import _socket  # not `socket`, `subprocess`, `dataclasses`: ~10 ms of imports on every create
import array
import fcntl
import os

from pyrunc.errors import InitError, PyruncError
from pyrunc.proc import reap

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

INIT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libexec", "pyrunc-init")
_SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE


def sealed_init() -> int:
    """A sealed memfd holding pyrunc-init (close-on-exec; cleared in the launcher child)."""
    try:
        with open(INIT_PATH, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise PyruncError(f"{INIT_PATH} is missing: build pyrunc (pip install .)") from None
    fd = os.memfd_create("pyrunc-init", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
    return fd


def _plan_fd(plan: bytes) -> int:
    fd = os.memfd_create("pyrunc-plan", os.MFD_CLOEXEC)
    view = memoryview(plan)
    while view:
        n = os.write(fd, view)
        view = view[n:]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


class InitHandlers:
    """What the caller does at each sync point: `on_pid(pid)`, `on_hooks()`
    (returns the state JSON for the createContainer hooks), `on_seccomp_fd(fd)`."""

    def __init__(self, on_pid: Callable[[int], None] | None = None, on_hooks: Callable[[], bytes] | None = None,
                 on_seccomp_fd: Callable[[int], None] | None = None,
                 on_host_mount: Callable[[int], None] | None = None) -> None:
        self.on_pid = on_pid or (lambda pid: None)
        self.on_hooks = on_hooks or (lambda: b"")
        self.on_seccomp_fd = on_seccomp_fd or (lambda fd: None)
        # without a mount namespace: the id of the rootfs bind made in the caller's
        self.on_host_mount = on_host_mount or (lambda mnt_id: None)


class InitResult:
    def __init__(self, pid: int = 0, extra_fds: list[int] | None = None) -> None:
        self.pid = pid
        self.extra_fds = extra_fds if extra_fds is not None else []


def _spawn(exe: int, argv: list[str], keep: tuple[int, ...], errfd: int,
           stdio: tuple[int, int, int] | None = None) -> int:
    """fork + exec of /proc/self/fd/<exe> with only stdio and `keep` open;
    `stdio` (three fds) replaces the caller's 0, 1, 2 in the child.
    (What subprocess.Popen(pass_fds=keep, close_fds=True) does, without
    importing subprocess.)  A failed exec is reported on `errfd`, the init's
    end of the sync socket, as an init error message."""
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: no Python objects of the parent are used past this point but fds
        # Python ignores SIGPIPE and SIGXFSZ, and an ignored signal stays
        # ignored across exec: give the init (and the container) the defaults,
        # as Popen's restore_signals does.
        _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
        _signal.signal(_signal.SIGXFSZ, _signal.SIG_DFL)
        if stdio is not None:
            copies = [os.dup(fd) for fd in stdio]  # (2, 1, 0) must not clobber itself
            for target, fd in enumerate(copies):
                os.dup2(fd, target)
        low = 3
        for fd in sorted(set(keep)):
            os.set_inheritable(fd, True)
            if fd > low:
                os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, 1 << 20)
        os.execv(f"/proc/self/fd/{exe}", argv)
    except OSError as e:
        try:
            os.write(errfd, f"error\texec pyrunc-init\t{e.errno or 0}\t".encode())
        except OSError:
            pass
    finally:
        os._exit(127)
    return -1  # not reached


def run_init(plan: bytes, handlers: InitHandlers, pass_fds: tuple[int, ...] = (),
             stdio: tuple[int, int, int] | None = None) -> InitResult:
    """Start the init, answer its sync messages, return once it is ready
    (blocked on the start gate, or about to exec when there is no gate)."""
    exe = sealed_init()
    planfd = _plan_fd(plan)
    parent, child = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    result = InitResult()
    try:
        launcher = _spawn(exe, ["pyrunc-init", str(planfd), str(child.fileno()), str(exe)],
                          (exe, planfd, child.fileno(), *pass_fds), child.fileno(), stdio)
    finally:
        os.close(exe)
        os.close(planfd)
        child.close()
    try:
        _converse(parent, handlers, result)
    except (BrokenPipeError, ConnectionResetError):
        # killed mid-setup (e.g. by a delete --force racing this create)
        raise PyruncError("container init exited unexpectedly during setup") from None
    finally:
        parent.close()
        reap(launcher)
    return result


def _converse(sock: _socket.socket, handlers: InitHandlers, result: InitResult) -> None:
    while True:
        fds = array.array("i")
        msg, anc, _flags, _addr = sock.recvmsg(1 << 16, _socket.CMSG_SPACE(4 * fds.itemsize))
        for level, typ, data in anc:
            if level == _socket.SOL_SOCKET and typ == _socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
        if not msg and not fds:
            raise PyruncError("container init exited unexpectedly during setup")
        text = msg.decode(errors="replace")
        if text.startswith("error\t"):
            raise InitError.from_report(text[len("error\t"):])
        if text.startswith("pid\t"):
            result.pid = int(text[4:])
            handlers.on_pid(result.pid)
        elif text == "hooks":
            state = handlers.on_hooks()
            sock.send(b"go\n" + state)
        elif text == "seccomp":
            for fd in fds:
                try:
                    handlers.on_seccomp_fd(fd)
                finally:
                    os.close(fd)
            sock.send(b"ok")
        elif text.startswith("mnt\t"):
            handlers.on_host_mount(int(text[4:]))
        elif text == "ready":
            return
        else:
            raise PyruncError(f"container init sent an unknown message {text!r}")
