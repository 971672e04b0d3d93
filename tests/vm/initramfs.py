"""Build (and cache) the initramfs that boots the cgroup v2 test VM.

The image is a gzip'd newc cpio written in pure Python (no cpio/mknod on the
host needed) holding: a static busybox, the kernel modules needed to reach the
host root over virtio-9p and overlay it, ``/init`` (stage 1) and ``/stage2``
(PID 1 after switch_root).  It is keyed by kernel version and by a hash of its
inputs, so it is rebuilt only when something changes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import os
import shutil
import stat
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Loaded in this order by stage 1; every one is required.
REQUIRED_MODULES: tuple[str, ...] = (
    "virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev",
    "virtio_pci", "netfs", "fscache", "9pnet", "9pnet_virtio", "9p", "overlay",
)
# Nice to have (a block device for io.max rules, loop devices, BFQ for
# io.bfq.weight); stage 1 loads them but does not fail without them.
OPTIONAL_MODULES: tuple[str, ...] = ("virtio_blk", "loop", "bfq")

BUSYBOX_CANDIDATES: tuple[str, ...] = ("/bin/busybox", "/usr/bin/busybox")


class InitramfsError(RuntimeError):
    """The initramfs cannot be built (missing module, busybox, ...)."""


# ----------------------------------------------------------------------------
# newc cpio writer


class _Cpio:
    def __init__(self) -> None:
        self._buf = io.BytesIO()
        self._ino = 1

    def _entry(self, name: str, mode: int, data: bytes = b"",
               rdev: tuple[int, int] = (0, 0)) -> None:
        encoded = name.encode() + b"\0"
        fields = (
            self._ino, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, 0,
            len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0,
        )
        self._ino += 1
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        self._buf.write(header + encoded)
        self._pad()
        self._buf.write(data)
        self._pad()

    def _pad(self) -> None:
        self._buf.write(b"\0" * (-self._buf.tell() % 4))

    def dir(self, name: str, perm: int = 0o755) -> None:
        self._entry(name, stat.S_IFDIR | perm)

    def file(self, name: str, data: bytes, perm: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | perm, data)

    def chardev(self, name: str, major: int, minor: int, perm: int = 0o600) -> None:
        self._entry(name, stat.S_IFCHR | perm, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        self._buf.write(b"\0" * (-self._buf.tell() % 512))
        return self._buf.getvalue()


# ----------------------------------------------------------------------------
# inputs


def find_busybox() -> Path:
    for cand in BUSYBOX_CANDIDATES:
        p = Path(cand)
        if p.is_file():
            out = subprocess.run(["file", "-L", str(p)], capture_output=True, text=True) \
                if shutil.which("file") else None
            if out is None or "dynamically linked" not in out.stdout:
                return p
    raise InitramfsError("no static busybox found (apt-get install busybox-static)")


def find_module(kver: str, name: str) -> Path | None:
    """Return the module file for ``name`` (``-``/``_`` agnostic), or None."""
    base = Path("/lib/modules") / kver / "kernel"
    wanted = {name.replace("-", "_")}
    for path in base.rglob("*.ko*"):
        stem = path.name.split(".ko", 1)[0].replace("-", "_")
        if stem in wanted:
            return path
    return None


def is_builtin(kver: str, name: str) -> bool:
    builtin = Path("/lib/modules") / kver / "modules.builtin"
    if not builtin.is_file():
        return False
    suffix = "/" + name.replace("_", "-")
    suffix2 = "/" + name
    for line in builtin.read_text().splitlines():
        stem = line.strip().rsplit(".ko", 1)[0]
        if stem.endswith(suffix) or stem.endswith(suffix2):
            return True
    return False


def read_module(path: Path) -> bytes:
    """Return an uncompressed .ko image (busybox insmod wants plain ELF)."""
    raw = path.read_bytes()
    if path.name.endswith(".ko"):
        return raw
    if path.name.endswith(".ko.xz"):
        return lzma.decompress(raw)
    if path.name.endswith(".ko.gz"):
        return gzip.decompress(raw)
    if path.name.endswith(".ko.zst"):
        if not shutil.which("zstd"):
            raise InitramfsError(f"{path}: zstd is needed to decompress it")
        return subprocess.run(["zstd", "-dc", str(path)], check=True,
                              capture_output=True).stdout
    raise InitramfsError(f"{path}: unknown module compression")


def collect_modules(kver: str) -> list[tuple[str, bytes, bool]]:
    """Return ``(name, ko_bytes, required)`` in load order."""
    out: list[tuple[str, bytes, bool]] = []
    for name in REQUIRED_MODULES + OPTIONAL_MODULES:
        required = name in REQUIRED_MODULES
        path = find_module(kver, name)
        if path is None:
            if is_builtin(kver, name) or not required:
                continue
            raise InitramfsError(
                f"/lib/modules/{kver}: module {name} not found "
                "(apt-get install linux-image-amd64)")
        out.append((name, read_module(path), required))
    return out


# ----------------------------------------------------------------------------
# build + cache


def _init_scripts() -> tuple[bytes, bytes]:
    return (HERE / "init.sh").read_bytes(), (HERE / "stage2.sh").read_bytes()


def build(kver: str) -> bytes:
    busybox = find_busybox().read_bytes()
    init, stage2 = _init_scripts()
    modules = collect_modules(kver)
    order = "".join(f"{name} {'required' if req else 'optional'}\n"
                    for name, _, req in modules)
    cpio = _Cpio()
    for d in ("bin", "dev", "proc", "sys", "lib", "lib/modules", "lower",
              "upper", "share", "newroot", "mnt"):
        cpio.dir(d)
    cpio.chardev("dev/console", 5, 1)
    cpio.chardev("dev/null", 1, 3, 0o666)
    cpio.file("bin/busybox", busybox, 0o755)
    cpio.file("init", init, 0o755)
    cpio.file("stage2", stage2, 0o755)
    cpio.file("lib/modules/order", order.encode())
    for name, data, _ in modules:
        cpio.file(f"lib/modules/{name}.ko", data)
    return gzip.compress(cpio.finish(), compresslevel=6, mtime=0)


def cache_dir() -> Path:
    env = os.environ.get("PYRUNC_VM_CACHE")
    if env:
        return Path(env)
    return HERE / ".cache"


def cached_initramfs(kver: str) -> Path:
    """Return the path of an initramfs for ``kver``, building it if needed."""
    h = hashlib.sha256()
    init, stage2 = _init_scripts()
    h.update(init + b"\0" + stage2 + b"\0" + Path(__file__).read_bytes())
    bb = find_busybox()
    st = bb.stat()
    h.update(f"{bb}:{st.st_size}:{st.st_mtime_ns}".encode())
    target = cache_dir() / kver / f"initramfs-{h.hexdigest()[:16]}.cpio.gz"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(build(kver))
    os.replace(tmp, target)
    for old in target.parent.glob("initramfs-*.cpio.gz"):
        if old != target:
            old.unlink(missing_ok=True)
    return target
