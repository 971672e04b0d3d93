"""A busybox image built offline from the host's static /bin/busybox: a rootfs
tar (for `docker import`) and an OCI image-layout archive (for `ctr images
import` and `podman load`)."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
import time

BUSYBOX = "/bin/busybox"
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\nuser:x:1000:1000:user:/home/user:/bin/sh\n"
GROUP = "root:x:0:\nnogroup:x:65534:\nuser:x:1000:\n"


# for rootfs_tar(tree=...): /run, /tmp and /var/tmp with content, owners and
# modes (and a symlink) for a tmpfs with tmpcopyup to copy
SEED_TREE = {
    "run": ("d", 0o710, 0, ""),
    "run/seed": ("f", 0o640, 1000, "seed-run\n"),
    "run/user": ("d", 0o700, 1000, ""),
    "run/user/f": ("f", 0o600, 1000, "nested\n"),
    "run/link": ("l", 0o777, 0, "/etc/passwd"),
    "var/tmp": ("d", 0o1777, 0, ""),
    "var/tmp/keep": ("f", 0o644, 0, "keep\n"),
    "tmp/seed": ("f", 0o600, 1000, "seed-tmp\n"),
}


def _applets() -> list[str]:
    out = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True, text=True).stdout
    return sorted({a for a in out.split() if a and "/" not in a and a != "busybox"})


# tree entries: path -> (kind "d" | "f" | "l", mode, uid (= gid), file content or link target)
Tree = dict[str, tuple[str, int, int, "bytes | str"]]


def rootfs_tar(files: dict[str, bytes] | None = None, tree: Tree | None = None) -> bytes:
    """An uncompressed tar of a minimal busybox root filesystem; `files`
    (path -> content) are added as executables, `tree` entries with the
    given kind, mode and owner (after the base, so they may replace its
    directories' modes)."""
    buf = io.BytesIO()
    mtime = int(time.time())
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add_dir(name: str, mode: int = 0o755) -> None:
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, mode, mtime
            tar.addfile(ti)

        def add_file(name: str, data: bytes, mode: int = 0o644) -> None:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), mode, mtime
            tar.addfile(ti, io.BytesIO(data))

        for d in ("bin", "dev", "etc", "proc", "sys", "root", "home", "home/user", "var"):
            add_dir(d, 0o700 if d == "root" else 0o755)
        add_dir("tmp", 0o1777)
        with open(BUSYBOX, "rb") as f:
            add_file("bin/busybox", f.read(), 0o755)
        for applet in _applets():
            ti = tarfile.TarInfo(f"bin/{applet}")
            ti.type, ti.linkname, ti.mode, ti.mtime = tarfile.SYMTYPE, "busybox", 0o777, mtime
            tar.addfile(ti)
        add_file("etc/passwd", PASSWD.encode())
        add_file("etc/group", GROUP.encode())
        for name, data in (files or {}).items():
            add_file(name, data, 0o755)
        for name, (kind, mode, uid, data) in (tree or {}).items():
            ti = tarfile.TarInfo(name)
            ti.mode, ti.mtime, ti.uid, ti.gid = mode, mtime, uid, uid
            if kind == "d":
                ti.type = tarfile.DIRTYPE
                tar.addfile(ti)
            elif kind == "l":
                ti.type, ti.linkname = tarfile.SYMTYPE, str(data)
                tar.addfile(ti)
            else:
                raw = data.encode() if isinstance(data, str) else data
                ti.size = len(raw)
                tar.addfile(ti, io.BytesIO(raw))
    return buf.getvalue()


def _blob(tar: tarfile.TarFile, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    ti = tarfile.TarInfo(f"blobs/sha256/{digest}")
    ti.size, ti.mode = len(data), 0o644
    tar.addfile(ti, io.BytesIO(data))
    return digest


def oci_archive(path: str, name: str, files: dict[str, bytes] | None = None,
                entrypoint: list[str] | None = None, tree: Tree | None = None) -> None:
    """Write an OCI image-layout tar holding one image `name` (repo:tag)."""
    layer = rootfs_tar(files, tree)
    gz = gzip.compress(layer, mtime=0)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": [f"PATH={IMAGE_PATH}"], **({"Entrypoint": entrypoint} if entrypoint else {"Cmd": ["sh"]})},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
        "history": [{"created_by": "pyrunc tests: busybox from the host"}],
    }
    with tarfile.open(path, "w") as tar:
        cfg = json.dumps(config).encode()
        cfg_d = _blob(tar, cfg)
        layer_d = _blob(tar, gz)
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + cfg_d, "size": len(cfg)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + layer_d, "size": len(gz)}],
        }
        man = json.dumps(manifest).encode()
        man_d = _blob(tar, man)
        tag = name.rsplit(":", 1)[1]
        index = {
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + man_d, "size": len(man),
                "annotations": {"org.opencontainers.image.ref.name": tag, "io.containerd.image.name": name},
            }],
        }
        for fname, data in (("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", json.dumps(index).encode())):
            ti = tarfile.TarInfo(fname)
            ti.size, ti.mode = len(data), 0o644
            tar.addfile(ti, io.BytesIO(data))
