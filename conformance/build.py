"""Build the checker (static C) once and lay out per-check root filesystems."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKER_SRC = HERE / "checker" / "checker.c"
BUSYBOX_APPLETS = ("sh", "sleep", "cat", "ls", "true", "false", "echo", "id")


class BuildError(Exception):
    """The checker could not be built (no gcc, no static libc...)."""


def default_build_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "oci-conformance"


def build_checker(build_dir: Path) -> Path:
    """gcc -static -O2 checker.c, cached by the hash of the source."""
    src = CHECKER_SRC.read_bytes()
    digest = hashlib.sha256(src).hexdigest()[:16]
    out = build_dir / f"checker-{digest}"
    if out.is_file() and os.access(out, os.X_OK):
        return out
    build_dir.mkdir(parents=True, exist_ok=True)
    cc = os.environ.get("CC", "gcc")
    tmp = build_dir / f".checker-{digest}.{os.getpid()}"
    cmd = [cc, "-static", "-O2", "-Wall", "-o", str(tmp), str(CHECKER_SRC)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise BuildError(f"{cc} not found: a C compiler with a static libc is needed") from None
    if res.returncode != 0:
        raise BuildError(f"{' '.join(cmd)} failed: {res.stderr.strip()[-500:]}")
    os.replace(tmp, out)
    return out


def find_static_busybox() -> Path | None:
    for cand in (shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox"):
        if cand and os.path.isfile(cand):
            head = Path(cand).read_bytes()[:8192]
            if b"ld-linux" not in head and b"ld-musl" not in head:
                return Path(cand)
    return None


def make_rootfs(dest: Path, checker: Path, busybox: Path | None) -> None:
    """A tiny rootfs: /checker, /bin/checker, busybox applets and the usual
    mount points.  Binaries are hard-linked from the build dir when possible."""
    for d in ("bin", "dev", "proc", "sys", "tmp", "etc", "mnt", "run", "var"):
        (dest / d).mkdir(parents=True, exist_ok=True)
    os.chmod(dest / "tmp", 0o1777)
    _link_or_copy(checker, dest / "checker")
    _link_or_copy(checker, dest / "bin" / "checker")
    if busybox is not None:
        _link_or_copy(busybox, dest / "bin" / "busybox")
        for applet in BUSYBOX_APPLETS:
            os.symlink("busybox", dest / "bin" / applet)
    (dest / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                         "nobody:x:65534:65534:nobody:/:/bin/false\n")
    (dest / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    (dest / "conformance-rootfs").write_text("marker\n")


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
