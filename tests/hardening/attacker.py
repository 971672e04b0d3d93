"""A CVE-2019-5736 attacker: a process that joins a container's namespaces
(as `nsenter` would) with the container's root identity and capabilities,
then tries to get a writable handle on the host binaries behind pyrunc's
processes visible in the container (/proc/PID/exe, /proc/PID/map_files/*).

Phase 1 (while the helper is visible): open every target for writing, and
grab O_PATH / O_RDONLY handles.  Prints "grabbed" and waits for a line on
stdin.  Phase 2 (after the helper exec'd or exited, as in the original
exploit): reopen each grabbed handle through /proc/self/fd/N for writing.
Nothing is ever written: opening a host binary for writing is the failure.

Usage: attacker.py INIT_HOST_PID CAPS(comma list or ALL) NSPID...
Prints one JSON document: {"opened_for_write": [...], "memfd_written": [...], "grabbed": [...], ...}"""
from __future__ import annotations

import ctypes
import json
import os
import sys

import prctl

NS_ORDER = ["user", "cgroup", "ipc", "uts", "net", "pid", "time", "mnt"]
libc = ctypes.CDLL(None, use_errno=True)


def join(init_pid: int) -> None:
    mine = {n: os.readlink(f"/proc/self/ns/{n}") for n in NS_ORDER if os.path.exists(f"/proc/self/ns/{n}")}
    fds = []
    for n in NS_ORDER:
        p = f"/proc/{init_pid}/ns/{n}"
        if n in mine and os.path.exists(p) and os.readlink(p) != mine[n]:
            fds.append((n, os.open(p, os.O_RDONLY)))
    for n, fd in fds:
        if libc.setns(fd, 0) != 0:
            raise OSError(ctypes.get_errno(), f"setns {n}")
        os.close(fd)


def drop_caps(spec: str) -> None:
    if spec == "ALL":
        return
    keep = [getattr(prctl, c) for c in spec.split(",") if c]
    for cap in range(prctl.CAP_LAST_CAP + 1):
        if cap not in keep:
            try:
                prctl.capbset.drop(cap)
            except (OSError, ValueError):
                pass
    prctl.cap_inheritable.limit()
    prctl.cap_effective.limit(*keep)
    prctl.cap_permitted.limit(*keep)


def targets(nspid: int) -> list[str]:
    out = [f"/proc/{nspid}/exe"]
    try:
        out += [f"/proc/{nspid}/map_files/{n}" for n in sorted(os.listdir(f"/proc/{nspid}/map_files"))]
    except OSError as e:
        out.append(f"/proc/{nspid}/map_files: {e.strerror}")
    return out


def try_write_open(path: str, report: dict, label: str) -> None:
    """Open `path` for writing.  A handle on a real file is the failure (it
    is closed without writing).  A handle on the anonymous memfd copy is
    harmless unless its seals let a byte through: that is tried."""
    for flags in (os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_APPEND):
        try:
            fd = os.open(path, flags)
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            link = os.readlink(f"/proc/self/fd/{fd}")
            if st.st_nlink == 0 and link.startswith("/memfd:"):
                try:
                    os.pwrite(fd, b"X", 0)
                    report["memfd_written"].append(label)
                except OSError as e:
                    report["memfd_refused"][label] = e.strerror
            else:
                report["opened_for_write"].append(f"{label} -> {link}")
        finally:
            os.close(fd)
        return


def main() -> None:
    init_pid, caps, nspids = int(sys.argv[1]), sys.argv[2], [int(p) for p in sys.argv[3:]]
    join(init_pid)
    drop_caps(caps)
    r, w = os.pipe()
    child = os.fork()  # born in the container's pid namespace
    if child:
        os.close(w)
        with os.fdopen(r, "rb") as f:
            sys.stdout.buffer.write(f.read())
        _, st = os.waitpid(child, 0)
        sys.exit(os.waitstatus_to_exitcode(st))
    os.close(r)
    report: dict = {"opened_for_write": [], "memfd_written": [], "memfd_refused": {}, "grabbed": [],
                    "links": {}, "errors": {}}
    held: list[tuple[str, int]] = []
    for nspid in nspids:
        for t in targets(nspid):
            if ": " in t:
                report["errors"][t.split(": ")[0]] = t.split(": ", 1)[1]
                continue
            try:
                report["links"][t] = os.readlink(t)
            except OSError as e:
                report["errors"][t] = e.strerror
            try_write_open(t, report, t)
            for flags in (os.O_PATH, os.O_RDONLY):
                try:
                    held.append((t, os.open(t, flags)))
                    report["grabbed"].append(t)
                except OSError as e:
                    report["errors"].setdefault(t, e.strerror)
    print(f"grabbed {len(held)}", flush=True)
    sys.stdin.readline()  # the test lets the helper exec (or exit)
    for t, fd in held:
        try_write_open(f"/proc/self/fd/{fd}", report, f"{t} (reopened after exec)")
    os.write(w, json.dumps(report).encode())
    os._exit(0)


if __name__ == "__main__":
    main()
