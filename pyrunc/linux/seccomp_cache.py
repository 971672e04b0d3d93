"""A cache of compiled seccomp programs.

Compiling docker's default profile with libseccomp takes 15-20 ms, and
docker, containerd and podman hand the same profile to every container.
The compiled program depends only on the profile, libseccomp and what the
running kernel supports, so it is kept next to the state root
(`/run/pyrunc` -> `/run/pyrunc-cache/seccomp`), keyed by a hash of all
three, and written atomically (a reader sees a whole entry or none).  Next
to the root, not in it: the root holds containers only."""
from __future__ import annotations

import binascii
import os

from _sha256 import sha256  # not hashlib: it loads OpenSSL's libcrypto (~2-10 ms) on every create

from pyrunc import jsontext
from pyrunc.linux.seccomp import SeccompProgram, compile_seccomp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_VERSION = "1"


def cache_dir(root: str) -> str:
    return os.path.join(os.path.normpath(root) + "-cache", "seccomp")


def _libseccomp_identity() -> str:
    """Which libseccomp the binding would compile with, without loading it
    (cffi plus libseccomp cost ~2 ms, and a cache hit needs neither): the
    binding's own file and every libseccomp.so.2 in the directories the
    dynamic loader searches, by device, inode, size and mtime, so replacing
    any of them changes the key.  With LD_LIBRARY_PATH or LD_PRELOAD set, or
    no library found there, libseccomp is asked for its version instead."""
    import sys

    from pyrunc.linux.seccomp import libseccomp_version

    if os.environ.get("LD_LIBRARY_PATH") or os.environ.get("LD_PRELOAD"):
        return "libseccomp " + libseccomp_version()
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.path.join(here, n) for n in sorted(os.listdir(here))
                  if n.startswith("_seccomp.") and n.endswith(".so")]
    arch = getattr(sys.implementation, "_multiarch", "")
    dirs = [f"/usr/local/lib/{arch}", "/usr/local/lib", f"/lib/{arch}", f"/usr/lib/{arch}", "/lib64",
            "/usr/lib64", "/lib", "/usr/lib"]
    candidates += [os.path.join(d, "libseccomp.so.2") for d in dirs]
    found = []
    for path in candidates:
        try:
            st = os.stat(path)
        except OSError:
            continue
        found.append(f"{path}:{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}")
    if not any(f.split(":", 1)[0].endswith("libseccomp.so.2") for f in found):
        return "libseccomp " + libseccomp_version()
    return "\n".join(found)


def _key(seccomp: dict[str, Any]) -> str:
    h = sha256()
    h.update(_VERSION.encode())
    h.update(_libseccomp_identity().encode())
    h.update(os.uname().release.encode())
    h.update(jsontext.dumps(seccomp, separators=(",", ":"), sort_keys=True).encode())
    return h.hexdigest()


def compile_cached(seccomp: dict[str, Any], root: str, field: str,
                   warn: Callable[[str], None]) -> SeccompProgram | None:
    """compile_seccomp, through the cache in `<root>-cache/seccomp`; the
    warnings of the first compilation are repeated on every hit."""
    d = cache_dir(root)
    path = os.path.join(d, _key(seccomp) + ".json")
    try:
        with open(path, "rb") as f:
            e = jsontext.loads(f.read())
        for w in e["warnings"]:
            warn(w)
        if e["empty"]:
            return None
        return SeccompProgram(bpf=binascii.a2b_base64(e["bpf"], strict_mode=True), flags=e["flags"], notify=e["notify"],
                              listener_path=e["listener_path"], listener_metadata=e["listener_metadata"],
                              skipped=tuple(e["skipped"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    warnings: list[str] = []

    def keep(msg: str) -> None:
        warnings.append(msg)
        warn(msg)

    prog = compile_seccomp(seccomp, field, keep)
    entry = {"warnings": warnings, "empty": prog is None}
    if prog is not None:
        entry.update(bpf=binascii.b2a_base64(prog.bpf, newline=False).decode(), flags=prog.flags, notify=prog.notify,
                     listener_path=prog.listener_path, listener_metadata=prog.listener_metadata,
                     skipped=list(prog.skipped))
    try:
        from pyrunc.store import write_atomic

        os.makedirs(d, mode=0o700, exist_ok=True)
        write_atomic(path, jsontext.dumps(entry).encode(), durable=True)
    except OSError:
        pass  # a cache that cannot be written only costs time
    return prog
