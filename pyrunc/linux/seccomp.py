"""Compile `linux.seccomp` into a raw BPF program with libseccomp.

The runtime compiles in Python (here), the C init loads the bytes with
seccomp(SECCOMP_SET_MODE_FILTER, program.flags, &prog) as late as possible
before execve, after no_new_privs (so libseccomp's own NNP setting is off).
When `program.notify` is set the load returns a listener fd that the runtime
passes to `send_to_listener`.

Behaviour follows runc where the spec leaves room:
- `{}` (no defaultAction and no syscalls) means no filter (None).
- absent `flags` defaults to SECCOMP_FILTER_FLAG_SPEC_ALLOW when supported.
- syscall names libseccomp does not know are skipped (debug note).
- rules whose action equals the default action are dropped.
- several args on the same index become one rule per arg (OR), otherwise one
  rule with all args (AND).
- a listenerPath without any SCMP_ACT_NOTIFY rule is ignored.
- an architecture libseccomp does not know (e.g. LOONGARCH64 with 2.5.4) is
  skipped with a warning: it can not run on this host anyway.
- the native architecture is always in the filter (libseccomp's default).
- deny-by-default profiles get the -ENOSYS prologue (see seccomp_enosys).
Stricter than runc, as the spec asks: errnoRet on an action without an errno
and listenerMetadata without listenerPath are errors.

The libseccomp binding (`pyrunc.linux._seccomp`) is imported lazily, so
importing this module is cheap.
"""
from __future__ import annotations

import errno as _errno
import os

from pyrunc.errors import ConfigError, PyruncError, UnsupportedError

TYPE_CHECKING = False  # typing costs ~3 ms of every create
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Warn = Callable[[str], None]

# Action names -> SECCOMP_RET_* values (kernel ABI; equal to libseccomp's
# SCMP_ACT_* values). ERRNO/TRACE take their 16-bit data from errnoRet.
ACTIONS: dict[str, int] = {
    "SCMP_ACT_KILL": 0x00000000,
    "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": 0x00050000,
    "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_NOTIFY": 0x7FC00000,
    "SCMP_ACT_LOG": 0x7FFC0000,
    "SCMP_ACT_ALLOW": 0x7FFF0000,
}
ERRNO_ACTIONS = frozenset({"SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"})
ALLOW_LIKE = frozenset({"SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"})

OPERATORS: dict[str, int] = {
    "SCMP_CMP_NE": 1,
    "SCMP_CMP_LT": 2,
    "SCMP_CMP_LE": 3,
    "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5,
    "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,
}

# runtime-spec SCMP_ARCH_* -> libseccomp arch name (seccomp_arch_resolve_name).
ARCHES: dict[str, str] = {
    "SCMP_ARCH_X86": "x86",
    "SCMP_ARCH_X86_64": "x86_64",
    "SCMP_ARCH_X32": "x32",
    "SCMP_ARCH_ARM": "arm",
    "SCMP_ARCH_AARCH64": "aarch64",
    "SCMP_ARCH_LOONGARCH64": "loongarch64",
    "SCMP_ARCH_M68K": "m68k",
    "SCMP_ARCH_MIPS": "mips",
    "SCMP_ARCH_MIPS64": "mips64",
    "SCMP_ARCH_MIPS64N32": "mips64n32",
    "SCMP_ARCH_MIPSEL": "mipsel",
    "SCMP_ARCH_MIPSEL64": "mipsel64",
    "SCMP_ARCH_MIPSEL64N32": "mipsel64n32",
    "SCMP_ARCH_PPC": "ppc",
    "SCMP_ARCH_PPC64": "ppc64",
    "SCMP_ARCH_PPC64LE": "ppc64le",
    "SCMP_ARCH_S390": "s390",
    "SCMP_ARCH_S390X": "s390x",
    "SCMP_ARCH_SH": "sh",
    "SCMP_ARCH_SHEB": "sheb",
    "SCMP_ARCH_PARISC": "parisc",
    "SCMP_ARCH_PARISC64": "parisc64",
    "SCMP_ARCH_RISCV64": "riscv64",
}

# seccomp(2) filter flags.
SECCOMP_FILTER_FLAG_TSYNC = 1 << 0
SECCOMP_FILTER_FLAG_LOG = 1 << 1
SECCOMP_FILTER_FLAG_SPEC_ALLOW = 1 << 2
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3
SECCOMP_FILTER_FLAG_TSYNC_ESRCH = 1 << 4
SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 1 << 5

FLAGS: dict[str, int] = {
    "SECCOMP_FILTER_FLAG_TSYNC": SECCOMP_FILTER_FLAG_TSYNC,
    "SECCOMP_FILTER_FLAG_LOG": SECCOMP_FILTER_FLAG_LOG,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": SECCOMP_FILTER_FLAG_SPEC_ALLOW,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
}

MAX_ARGS = 6
BPF_MAXINSNS = 4096
SPEC_VERSION = "1.3.0"

# libseccomp attributes / API
_FLTATR_CTL_NNP = 3
_FLTATR_CTL_OPTIMIZE = 8
_OPTIMIZE_MIN_RULES = 32  # as runc: binary tree only for longer rule sets


def _no_warn(msg: str) -> None:
    pass


class SeccompProgram:
    """A compiled filter: load with seccomp(SECCOMP_SET_MODE_FILTER, flags, prog).

    (A plain class rather than a dataclass: keeps this module's import cheap.)"""

    __slots__ = ("bpf", "flags", "notify", "listener_path", "listener_metadata", "skipped")

    def __init__(self, bpf: bytes, flags: int, notify: bool, listener_path: str | None = None,
                 listener_metadata: str | None = None, skipped: tuple[str, ...] = ()) -> None:
        self.bpf = bpf  # struct sock_filter[], host byte order
        self.flags = flags  # SECCOMP_FILTER_FLAG_* for seccomp(2)
        self.notify = notify  # some rule uses SCMP_ACT_NOTIFY (flags has NEW_LISTENER)
        self.listener_path = listener_path
        self.listener_metadata = listener_metadata
        self.skipped = skipped  # syscall names libseccomp does not know

    def _key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, k) for k in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SeccompProgram) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"SeccompProgram(length={self.length}, flags={self.flags:#x}, notify={self.notify}, "
                f"listener_path={self.listener_path!r}, skipped={self.skipped!r})")

    @property
    def length(self) -> int:
        """Number of BPF instructions (sock_fprog.len)."""
        return len(self.bpf) // 8


def _lib() -> tuple[Any, Any]:
    try:
        from pyrunc.linux._seccomp import ffi, lib  # type: ignore[import-not-found]
    except ImportError as e:  # not built
        raise UnsupportedError(f"seccomp (libseccomp binding not built: {e})") from None
    return ffi, lib


# ---------------------------------------------------------------- validation


def _uint(value: Any, field: str, bits: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value >= 1 << bits:
        raise ConfigError(field, f"must be an unsigned {bits}-bit integer, got {value!r}")
    return value


def _action(name: Any, errno_ret: Any, field: str, errno_field: str, default_errno: int = _errno.EPERM) -> int:
    if name not in ACTIONS:
        raise ConfigError(field, f"unknown seccomp action {name!r}")
    if errno_ret is not None:
        if name not in ERRNO_ACTIONS:
            raise ConfigError(errno_field, f"{name} does not take an errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)")
        data = _uint(errno_ret, errno_field, 16)
    else:
        data = default_errno if name in ERRNO_ACTIONS else 0
    return ACTIONS[name] | data


def _strlist(value: Any, field: str, nonempty: bool = False) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(field, "must be an array of strings")
    if nonempty and not value:
        raise ConfigError(field, "must contain at least one entry")
    return value


def _args(args: Any, field: str) -> list[tuple[int, int, int, int]]:
    if args is None:
        return []
    if not isinstance(args, list):
        raise ConfigError(field, "must be an array")
    out = []
    for i, arg in enumerate(args):
        f = f"{field}[{i}]"
        if not isinstance(arg, dict):
            raise ConfigError(f, "must be an object")
        for key in ("index", "value", "op"):
            if key not in arg:
                raise ConfigError(f"{f}.{key}", "is required")
        index = _uint(arg["index"], f"{f}.index", 32)
        if index >= MAX_ARGS:
            raise ConfigError(f"{f}.index", f"must be below {MAX_ARGS} (syscalls have at most six arguments), got {index}")
        value = _uint(arg["value"], f"{f}.value", 64)
        value_two = _uint(arg.get("valueTwo", 0) or 0, f"{f}.valueTwo", 64)
        op = arg["op"]
        if op not in OPERATORS:
            raise ConfigError(f"{f}.op", f"unknown seccomp operator {op!r}")
        out.append((index, OPERATORS[op], value, value_two))
    return out


def _supported_flag_bits() -> int:
    """SECCOMP_FILTER_FLAG_* bits the running kernel accepts (probed once)."""
    global _supported_bits
    if _supported_bits is None:
        _, lib = _lib()
        bits = 0
        for bit in (SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW,
                    SECCOMP_FILTER_FLAG_NEW_LISTENER, SECCOMP_FILTER_FLAG_TSYNC_ESRCH):
            if lib.pyrunc_seccomp_probe_flag(bit) == -_errno.EFAULT:
                bits |= bit
        # The kernel only accepts WAIT_KILLABLE_RECV together with NEW_LISTENER.
        probe = SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV | SECCOMP_FILTER_FLAG_NEW_LISTENER
        if lib.pyrunc_seccomp_probe_flag(probe) == -_errno.EFAULT:
            bits |= SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
        _supported_bits = bits
    return _supported_bits


_supported_bits: int | None = None


def _flags(value: Any, field: str) -> int:
    if value is None:
        # runc: no `flags` key means SPEC_ALLOW when the kernel supports it.
        return SECCOMP_FILTER_FLAG_SPEC_ALLOW & _supported_flag_bits()
    names = _strlist(value, field)
    bits = 0
    for i, name in enumerate(names):
        if name not in FLAGS:
            raise ConfigError(f"{field}[{i}]", f"unknown seccomp flag {name!r}")
        if not FLAGS[name] & _supported_flag_bits():
            raise ConfigError(f"{field}[{i}]", f"{name} is not supported by the running kernel")
        bits |= FLAGS[name]
    return bits


# ---------------------------------------------------------------- compiling


def compile_seccomp(
    seccomp: dict[str, Any] | None,
    field: str = "linux.seccomp",
    warn: Warn = _no_warn,
    debug: Warn = _no_warn,
) -> SeccompProgram | None:
    """Validate and compile `linux.seccomp`; None when there is no filter."""
    if seccomp is None:
        return None
    if not isinstance(seccomp, dict):
        raise ConfigError(field, "must be an object")
    default_name = seccomp.get("defaultAction")
    syscalls = seccomp.get("syscalls")
    if default_name in (None, "") and not syscalls:
        return None
    if default_name in (None, ""):
        raise ConfigError(f"{field}.defaultAction", "is required")
    default_action = _action(default_name, seccomp.get("defaultErrnoRet"), f"{field}.defaultAction",
                             f"{field}.defaultErrnoRet")
    if default_name == "SCMP_ACT_NOTIFY":
        raise ConfigError(f"{field}.defaultAction", "SCMP_ACT_NOTIFY cannot be the default action")

    arches = _strlist(seccomp.get("architectures") or [], f"{field}.architectures")
    for i, a in enumerate(arches):
        if a not in ARCHES:
            raise ConfigError(f"{field}.architectures[{i}]", f"unknown seccomp architecture {a!r}")
    flags = _flags(seccomp.get("flags"), f"{field}.flags")

    listener_path = seccomp.get("listenerPath") or None
    metadata = seccomp.get("listenerMetadata") or None
    if listener_path is not None and not isinstance(listener_path, str):
        raise ConfigError(f"{field}.listenerPath", "must be a string")
    if metadata is not None:
        if not isinstance(metadata, str):
            raise ConfigError(f"{field}.listenerMetadata", "must be a string")
        if listener_path is None:
            raise ConfigError(f"{field}.listenerMetadata", "must not be set without listenerPath")

    # Parse every rule before touching libseccomp, so errors name the entry.
    if syscalls is None:
        syscalls = []
    if not isinstance(syscalls, list):
        raise ConfigError(f"{field}.syscalls", "must be an array")
    rules: list[tuple[int, str, int, list[tuple[int, int, int, int]]]] = []
    notify = False
    for i, entry in enumerate(syscalls):
        f = f"{field}.syscalls[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f, "must be an object")
        if "names" not in entry:
            raise ConfigError(f"{f}.names", "is required")
        names = _strlist(entry["names"], f"{f}.names", nonempty=True)
        if "action" not in entry:
            raise ConfigError(f"{f}.action", "is required")
        action = _action(entry["action"], entry.get("errnoRet"), f"{f}.action", f"{f}.errnoRet")
        args = _args(entry.get("args"), f"{f}.args")
        if entry["action"] == "SCMP_ACT_NOTIFY":
            notify = True
            if "write" in names:
                # The init reports the listener fd to pyrunc with write(2)
                # after loading the filter (runc has the same restriction).
                raise ConfigError(f"{f}.names", "SCMP_ACT_NOTIFY cannot be used for the write syscall")
        for name in names:
            if not name:
                raise ConfigError(f"{f}.names", "empty syscall name")
            rules.append((i, name, action, args))

    if notify:
        if listener_path is None:
            raise ConfigError(f"{field}.listenerPath", "is required when a rule uses SCMP_ACT_NOTIFY")
        if not _supported_flag_bits() & SECCOMP_FILTER_FLAG_NEW_LISTENER:
            raise ConfigError(f"{field}.syscalls", "SCMP_ACT_NOTIFY is not supported by the running kernel")
        flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER
        if flags & SECCOMP_FILTER_FLAG_TSYNC:
            flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH  # kernel refuses TSYNC+listener otherwise
    else:
        if listener_path is not None:
            debug(f"{field}.listenerPath: ignored, no rule uses SCMP_ACT_NOTIFY")
        if flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV:
            raise ConfigError(f"{field}.flags",
                              "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a rule with SCMP_ACT_NOTIFY")

    bpf, skipped = _build(field, default_name, default_action, arches, rules, warn, debug)
    return SeccompProgram(
        bpf=bpf,
        flags=flags,
        notify=notify,
        listener_path=listener_path if notify else None,
        listener_metadata=metadata if notify else None,
        skipped=tuple(skipped),
    )


def _build(
    field: str,
    default_name: str,
    default_action: int,
    arches: list[str],
    rules: list[tuple[int, str, int, list[tuple[int, int, int, int]]]],
    warn: Warn,
    debug: Warn,
) -> tuple[bytes, list[str]]:
    ffi, lib = _lib()
    ctx = lib.seccomp_init(default_action)
    if ctx == ffi.NULL:
        raise ConfigError(f"{field}.defaultAction", "libseccomp rejected the default action")
    try:
        _check(lib.seccomp_attr_set(ctx, _FLTATR_CTL_NNP, 0), f"{field}", "disabling libseccomp's no_new_privs")
        if len(rules) > _OPTIMIZE_MIN_RULES:
            lib.seccomp_attr_set(ctx, _FLTATR_CTL_OPTIMIZE, 2)  # best effort, as runc

        tokens: list[int] = [lib.seccomp_arch_native()]
        for i, name in enumerate(arches):
            token = lib.seccomp_arch_resolve_name(ARCHES[name].encode())
            if token == 0:
                # Only native and compat ABIs can run here, and libseccomp
                # knows those: a foreign arch it lacks can not be filtered
                # but also never be used, so skip it instead of failing.
                warn(f"{field}.architectures[{i}]: {name} is not supported by libseccomp "
                     f"{libseccomp_version()}, ignored")
                continue
            rc = lib.seccomp_arch_add(ctx, token)
            if rc not in (0, -_errno.EEXIST):
                _check(rc, f"{field}.architectures[{i}]", f"adding {name}")
            if token not in tokens:
                tokens.append(token)

        skipped: list[str] = []
        cmp_cache: dict[tuple[tuple[int, int, int, int], ...], Any] = {}
        for i, name, action, args in rules:
            if action == default_action:
                continue  # redundant; libseccomp would refuse it
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr == lib.__NR_SCMP_ERROR:
                if name not in skipped:
                    skipped.append(name)
                    debug(f"{field}.syscalls[{i}]: unknown syscall {name!r} ignored")
                continue
            where = f"{field}.syscalls[{i}]"
            indexes = [a[0] for a in args]
            if len(set(indexes)) != len(indexes):
                groups = [[a] for a in args]  # same index twice: one rule each (OR)
            else:
                groups = [args]
            for group in groups:
                key = tuple(group)
                arr = cmp_cache.get(key)
                if arr is None:
                    arr = ffi.new("struct scmp_arg_cmp[]", max(len(group), 1))
                    for j, (index, op, a, b) in enumerate(group):
                        arr[j].arg = index
                        arr[j].op = op
                        arr[j].datum_a = a
                        arr[j].datum_b = b
                    cmp_cache[key] = arr
                rc = lib.seccomp_rule_add_array(ctx, action, nr, len(group), arr)
                _check(rc, where, f"adding rule for {name}")

        program = _export(ctx, lib, field)
        stub = b""
        if not _allows_new_syscalls(default_name, default_action):
            from pyrunc.linux.seccomp_enosys import enosys_stub

            stub = enosys_stub(_limits(lib, tokens, {r[1] for r in rules}))
        bpf = stub + program
        if len(bpf) // 8 > BPF_MAXINSNS:
            raise ConfigError(field, f"compiled filter has {len(bpf) // 8} instructions, more than the kernel's {BPF_MAXINSNS}")
        return bpf, skipped
    finally:
        lib.seccomp_release(ctx)


def _allows_new_syscalls(default_name: str, default_action: int) -> bool:
    """No -ENOSYS prologue when the default already allows or returns ENOSYS."""
    if default_name in ALLOW_LIKE:
        return True
    return default_name == "SCMP_ACT_ERRNO" and default_action & 0xFFFF == _errno.ENOSYS


def _limits(lib: Any, tokens: list[int], names: set[str]) -> dict[int, dict[str, int]]:
    """AUDIT_ARCH -> {"native"|"x32": highest syscall number the profile names}."""
    from pyrunc.linux.seccomp_enosys import AUDIT_ARCH_X86_64

    x32 = lib.seccomp_arch_resolve_name(b"x32")
    out: dict[int, dict[str, int]] = {}
    encoded = [n.encode() for n in names]
    for token in tokens:
        audit = AUDIT_ARCH_X86_64 if token == x32 else token
        kind = "x32" if token == x32 else "native"
        top = -1
        for name in encoded:
            nr = lib.seccomp_syscall_resolve_name_arch(token, name)
            if nr >= 0 and nr > top:  # negative: unknown or a multiplexed pseudo-syscall
                top = nr
        if top >= 0:
            out.setdefault(audit, {})[kind] = top
    return out


def _export(ctx: Any, lib: Any, field: str) -> bytes:
    fd = os.memfd_create("pyrunc-seccomp", os.MFD_CLOEXEC)
    try:
        _check(lib.seccomp_export_bpf(ctx, fd), field, "exporting the BPF program")
        size = os.lseek(fd, 0, os.SEEK_END)
        return os.pread(fd, size, 0)
    finally:
        os.close(fd)


def _check(rc: int, field: str, what: str) -> None:
    if rc < 0:
        raise ConfigError(field, f"libseccomp: {what}: {os.strerror(-rc)}")


# ---------------------------------------------------------------- loading


def load_program(program: SeccompProgram) -> int:
    """Load `program` into the calling thread (needs no_new_privs or
    CAP_SYS_ADMIN). Returns the listener fd when program.notify, else -1.

    The container init does this in C; this is for in-process use and tests."""
    ffi, lib = _lib()
    buf = ffi.from_buffer(program.bpf)
    rc = lib.pyrunc_seccomp_set_filter(program.flags, buf, program.length)
    if rc < 0:
        raise OSError(-rc, f"seccomp(SECCOMP_SET_MODE_FILTER): {os.strerror(-rc)}")
    return int(rc) if program.notify else -1


def set_no_new_privs() -> None:
    _, lib = _lib()
    rc = lib.pyrunc_set_no_new_privs()
    if rc < 0:
        raise OSError(-rc, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(-rc)}")


# ---------------------------------------------------------------- listener


def send_to_listener(listener_path: str, fd: int, state: dict[str, Any], metadata: str | None = None,
                     field: str = "linux.seccomp.listenerPath") -> None:
    """Send the container process state and the seccomp listener fd
    (SCM_RIGHTS, named "seccompFd") to the agent at `listener_path`.

    One connection per state, closed afterwards (runtime-spec
    config-linux.md "The Container Process State")."""
    import json
    import socket

    msg: dict[str, Any] = {
        "ociVersion": state.get("ociVersion", SPEC_VERSION),
        "fds": ["seccompFd"],
        "pid": state.get("pid", 0),
    }
    if metadata:
        msg["metadata"] = metadata
    msg["state"] = state
    payload = json.dumps(msg).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(listener_path)
            sent = socket.send_fds(sock, [payload], [fd])  # fds only in the first sendmsg
            if sent < len(payload):
                sock.sendall(payload[sent:])
    except OSError as e:
        reason = e.strerror or str(e)
        raise PyruncError(f"{field}: sending the seccomp fd to {listener_path}: {reason}") from None


# ---------------------------------------------------------------- features


def libseccomp_version() -> str:
    _, lib = _lib()
    v = lib.seccomp_version()
    return f"{v.major}.{v.minor}.{v.micro}"


def seccomp_features() -> dict[str, Any]:
    """The `linux.seccomp` object of `pyrunc features` (features-linux.json).

    The libseccomp version goes in the features annotations as
    "io.github.seccomp.libseccomp.version" (see libseccomp_version)."""
    try:
        _, lib = _lib()
    except UnsupportedError:
        return {"enabled": False}
    archs = [name for name, lname in ARCHES.items() if lib.seccomp_arch_resolve_name(lname.encode()) != 0]
    supported = _supported_flag_bits()
    actions = []
    for name, value in ACTIONS.items():
        if lib.pyrunc_seccomp_action_avail(value) == 0:  # probed with the bare action
            actions.append(name)
    return {
        "enabled": True,
        "actions": sorted(actions),
        "operators": sorted(OPERATORS),
        "archs": sorted(archs),
        "knownFlags": list(FLAGS),
        "supportedFlags": [n for n, bit in FLAGS.items() if bit & supported],
    }
