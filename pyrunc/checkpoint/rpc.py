"""CRIU's RPC (`criu swrk FD`): protobuf messages over a SOCK_SEQPACKET pair.

Why the RPC and why a hand-written codec: the RPC is CRIU's supported
programmatic interface (runc and podman's crun use it); it gives typed
answers (success, cr_errno, the restored pid, notifications with fds)
instead of parsed CLI output.  The messages pyrunc sends are proto2 scalars,
strings and a few small nested messages (rpc.proto's criu_req / criu_opts /
criu_resp), so the wire format is written here in ~100 lines instead of
depending on `google.protobuf`: Debian's pycriu lives in dist-packages,
built against Debian's python3-protobuf, outside pyrunc's isolated venv,
and protobuf's generated code refuses runtimes of another major version.
tests/unit/test_criu_rpc.py checks these field numbers against the
rpc.proto CRIU ships (/usr/include/criu/rpc.proto) and the encoding against
google.protobuf when both are present."""
from __future__ import annotations

import array
import os
import socket
import subprocess
from typing import Any, Callable

# criu_req_type
EMPTY, DUMP, RESTORE, CHECK, PRE_DUMP, NOTIFY, FEATURE_CHECK, VERSION = 0, 1, 2, 3, 4, 6, 9, 10
REQ_NAMES = {EMPTY: "EMPTY", DUMP: "DUMP", RESTORE: "RESTORE", CHECK: "CHECK", PRE_DUMP: "PRE_DUMP",
             NOTIFY: "NOTIFY", FEATURE_CHECK: "FEATURE_CHECK", VERSION: "VERSION"}
# criu_cg_mode
CG_MODES = {"ignore": 0, "soft": 3, "full": 4, "strict": 5, "": 6}

# wire types
_VARINT, _LEN = 0, 2

# message -> field -> (number, kind); kind: "int32" "uint32" "bool" "enum" "string" or a message name.
# A field listed in REPEATED is a list.
SCHEMA: dict[str, dict[str, tuple[int, str]]] = {
    "criu_page_server_info": {"address": (1, "string"), "port": (2, "int32"), "pid": (3, "int32"),
                              "fd": (4, "int32")},
    "ext_mount_map": {"key": (1, "string"), "val": (2, "string")},
    "join_namespace": {"ns": (1, "string"), "ns_file": (2, "string"), "extra_opt": (3, "string")},
    "inherit_fd": {"key": (1, "string"), "fd": (2, "int32")},
    "cgroup_root": {"ctrl": (1, "string"), "path": (2, "string")},
    "criu_opts": {
        "images_dir_fd": (1, "int32"), "pid": (2, "int32"), "leave_running": (3, "bool"),
        "ext_unix_sk": (4, "bool"), "tcp_established": (5, "bool"), "evasive_devices": (6, "bool"),
        "shell_job": (7, "bool"), "file_locks": (8, "bool"), "log_level": (9, "int32"),
        "log_file": (10, "string"), "ps": (11, "criu_page_server_info"), "notify_scripts": (12, "bool"),
        "root": (13, "string"), "parent_img": (14, "string"), "track_mem": (15, "bool"),
        "auto_dedup": (16, "bool"), "work_dir_fd": (17, "int32"), "link_remap": (18, "bool"),
        "ext_mnt": (23, "ext_mount_map"), "manage_cgroups": (24, "bool"), "cg_root": (25, "cgroup_root"),
        "rst_sibling": (26, "bool"), "inherit_fd": (27, "inherit_fd"), "manage_cgroups_mode": (34, "enum"),
        "external": (37, "string"), "empty_ns": (38, "uint32"), "join_ns": (39, "join_namespace"),
        "freeze_cgroup": (44, "string"), "tcp_skip_in_flight": (46, "bool"), "lazy_pages": (48, "bool"),
        "status_fd": (49, "int32"), "orphan_pts_master": (50, "bool"), "config_file": (51, "string"),
    },
    "criu_features": {"mem_track": (1, "bool"), "lazy_pages": (2, "bool"), "pidfd_store": (3, "bool")},
    "criu_req": {"type": (1, "enum"), "opts": (2, "criu_opts"), "notify_success": (3, "bool"),
                 "keep_open": (4, "bool"), "features": (5, "criu_features"), "pid": (6, "uint32")},
    "criu_dump_resp": {"restored": (1, "bool")},
    "criu_restore_resp": {"pid": (1, "int32")},
    "criu_notify": {"script": (1, "string"), "pid": (2, "int32")},
    "criu_version": {"major_number": (1, "int32"), "minor_number": (2, "int32"), "gitid": (3, "string"),
                     "sublevel": (4, "int32"), "extra": (5, "int32"), "name": (6, "string")},
    "criu_resp": {"type": (1, "enum"), "success": (2, "bool"), "dump": (3, "criu_dump_resp"),
                  "restore": (4, "criu_restore_resp"), "notify": (5, "criu_notify"),
                  "ps": (6, "criu_page_server_info"), "cr_errno": (7, "int32"),
                  "features": (8, "criu_features"), "cr_errmsg": (9, "string"),
                  "version": (10, "criu_version"), "status": (11, "int32")},
}
REPEATED = {("criu_opts", n) for n in ("ext_mnt", "cg_root", "inherit_fd", "external", "join_ns")}
_SCALARS = ("int32", "uint32", "bool", "enum")


def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64  # proto int32: negative numbers take ten bytes
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode(msg: str, values: dict[str, Any]) -> bytes:
    """Serialize `values` (None values are left out) as message `msg`."""
    fields = SCHEMA[msg]
    out = bytearray()
    for name, value in values.items():
        if value is None:
            continue
        if name not in fields:
            raise KeyError(f"{msg} has no field {name}")
        num, kind = fields[name]
        items = value if (msg, name) in REPEATED else [value]
        for v in items:
            if kind in _SCALARS:
                out += _varint(num << 3 | _VARINT) + _varint(int(v))
            else:
                data = v.encode() if kind == "string" else encode(kind, v)
                out += _varint(num << 3 | _LEN) + _varint(len(data)) + data
    return bytes(out)


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def decode(msg: str, buf: bytes) -> dict[str, Any]:
    """Parse message `msg`; unknown fields are skipped."""
    by_num = {num: (name, kind) for name, (num, kind) in SCHEMA[msg].items()}
    out: dict[str, Any] = {}
    i = 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == _VARINT:
            raw, i = _read_varint(buf, i)
            value: Any = raw
        elif wire == _LEN:
            size, i = _read_varint(buf, i)
            value = buf[i:i + size]
            i += size
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"criu: malformed {msg} (wire type {wire})")
        if num not in by_num:
            continue
        name, kind = by_num[num]
        if kind == "bool":
            value = bool(value)
        elif kind == "int32":
            value = value - (1 << 64) if value >= 1 << 63 else value
        elif kind == "string":
            value = bytes(value).decode(errors="replace")
        elif kind not in _SCALARS:
            value = decode(kind, bytes(value))
        if (msg, name) in REPEATED:
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    return out


class CriuError(Exception):
    """CRIU said no (or could not be run); `str()` is one line."""


Notify = Callable[[dict[str, Any], list[int]], None]


def swrk(req: dict[str, Any], *, criu: str = "criu", pass_fds: tuple[int, ...] = (),
         on_notify: Notify | None = None, on_start: Callable[[int], None] | None = None,
         stdio: bool = True) -> dict[str, Any]:
    """Run one request through a fresh `criu swrk`: send `req` (a criu_req
    dict), answer NOTIFY messages after `on_notify(notify, fds)` (fds are
    any passed with it, e.g. orphan-pts-master's pty master; the callback
    owns them), return the final criu_resp dict.  `on_start(criu_pid)` runs
    before the request is sent (restore moves CRIU into the cgroup there).
    CRIU inherits our stdio (restore hands it to the restored tree)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        try:
            child = subprocess.Popen([criu, "swrk", str(theirs.fileno())],
                                     pass_fds=(theirs.fileno(), *pass_fds), close_fds=True,
                                     stdin=None if stdio else subprocess.DEVNULL,
                                     stdout=None if stdio else subprocess.DEVNULL,
                                     stderr=None if stdio else subprocess.DEVNULL)
        except OSError as e:
            raise CriuError(f"cannot run {criu}: {os.strerror(e.errno or 0) if e.errno else e}"
                            " (install criu)") from None
        theirs.close()
        try:
            if on_start is not None:
                on_start(child.pid)
            ours.sendall(encode("criu_req", req))
            while True:
                fds = array.array("i")
                data, anc, _flags, _addr = ours.recvmsg(1 << 20, socket.CMSG_SPACE(16 * fds.itemsize))
                for level, kind, payload in anc:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
                if not data:
                    raise CriuError(f"criu {REQ_NAMES.get(req.get('type', 0), '?')}: "
                                    "criu exited without an answer")
                resp = decode("criu_resp", data)
                if resp.get("type") == NOTIFY and resp.get("success"):
                    try:
                        if on_notify is not None:
                            on_notify(resp.get("notify") or {}, list(fds))
                        else:
                            for fd in fds:
                                os.close(fd)
                    except BaseException:
                        raise
                    ours.sendall(encode("criu_req", {"type": NOTIFY, "notify_success": True}))
                    continue
                for fd in fds:
                    os.close(fd)
                return resp
        finally:
            ours.close()
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    finally:
        ours.close()
        if theirs.fileno() >= 0:
            theirs.close()
