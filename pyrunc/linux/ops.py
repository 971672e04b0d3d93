"""Plan operation codes: the Python mirror of csrc/init/ops.h (a unit test
keeps the two in step) and the wire encoding the init reads."""
from __future__ import annotations

import struct

OP_END = 0
OP_CGROUP_JOIN = 1
OP_SETNS = 2
OP_UNSHARE_TIME = 3
OP_CLONE = 4
OP_SETSID = 10
OP_OOM_SCORE_ADJ = 11
OP_SYSCTL = 12
OP_RLIMIT = 13
OP_ROOT_PROPAGATION = 14
OP_ROOTFS = 15
OP_MOUNT = 16
OP_MKNOD = 17
OP_SYMLINK = 18
OP_HOOKS_SYNC = 19
OP_HOOK = 20
OP_PIVOT = 21
OP_READONLY_PATH = 22
OP_MASK_PATH = 23
OP_ROOT_READONLY = 24
OP_HOSTNAME = 25
OP_DOMAINNAME = 26
OP_CONSOLE = 27
OP_SECCOMP = 28
OP_KEEPCAPS = 29
OP_CAPBSET = 30
OP_SETGROUPS = 31
OP_SETGID = 32
OP_SETUID = 33
OP_CAPS = 34
OP_NO_NEW_PRIVS = 35
OP_UMASK = 36
OP_CWD = 37
OP_FIND_EXEC = 38
OP_READY = 39
OP_FIFO_OPEN = 40
OP_FIFO_WAIT = 41
OP_CLOSE_FDS = 42
OP_EXEC = 43
OP_PERSONALITY = 44
OP_SCHEDULER = 45
OP_IOPRIO = 46
OP_CPU_AFFINITY = 47
OP_MEMPOLICY = 48
OP_KEYRING = 49
OP_FIFO_RELEASE = 51
OP_CGROUP_JOIN_LATE = 52
OP_LSM_EXEC = 53
OP_LOOPBACK_UP = 60
OP_FIX_STDIO = 61
OP_HOME = 62
OP_MKCWD = 63
OP_MOUNTS_RO = 70
OP_TRACE = 90

NAMES = {v: k for k, v in globals().items() if k.startswith("OP_") and isinstance(v, int)}

Arg = str | bytes | int
Op = tuple  # (code, *args)

MAGIC = b"PYRP1\n"
MAX_ARGS = 16


def _arg(a: Arg) -> bytes:
    if isinstance(a, bytes):
        return a
    if isinstance(a, bool):
        return b"1" if a else b"0"
    if isinstance(a, int):
        return str(a).encode()
    return a.encode()


def nul_list(items: list[str]) -> bytes:
    """A list of strings as one NUL-separated argument (argv, env)."""
    return b"".join(s.encode() + b"\0" for s in items)


def encode(ops: list[Op]) -> bytes:
    out = [MAGIC]
    for code, *args in ops:
        if len(args) > MAX_ARGS:
            raise ValueError(f"{NAMES[code]}: too many arguments")
        out.append(struct.pack("=II", code, len(args)))
        for a in args:
            b = _arg(a)
            out.append(struct.pack("=I", len(b)))
            out.append(b)
    out.append(struct.pack("=II", OP_END, 0))
    return b"".join(out)


def describe(ops: list[Op]) -> list[str]:
    """Human-readable plan, for --debug and tests."""
    lines = []
    for code, *args in ops:
        shown = []
        for a in args:
            b = _arg(a)
            shown.append(repr(b.decode(errors="replace")) if len(b) < 80 else f"<{len(b)} bytes>")
        lines.append(f"{NAMES[code]}({', '.join(shown)})")
    return lines
