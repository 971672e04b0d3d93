"""A user-namespaced pod (`hostUsers: false`) in the shape containerd 1.7/2.0
sends it, driven straight through pyrunc: containerd 1.6's CRI (this
machine's) has no `userns_options`, so the configs are built here.

The pod: a sandbox container with a new user namespace mapping container
ids 0-65535 to host ids 100000-165535 (a 65536 range, like the kubelet's
allocation), a rootfs owned by the mapped root, and a container that joins
the sandbox's user/net/ipc/uts namespaces with an idmapped bind volume
(mount `uidMappings`/`gidMappings`, runtime-spec 1.2): files on the volume
keep their host ids on disk and show the same ids inside.

Runs when `pyrunc features` advertises `mountExtensions.idmap`; otherwise it
skips saying so. No runc comparison: Debian's runc 1.1.5 predates idmapped
mounts (runc 1.2)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import new_id

HOST_BASE = 100000
SIZE = 65536
MAP = [{"containerID": 0, "hostID": HOST_BASE, "size": SIZE}]
# containerd's default capability set (oci.WithDefaultSpec): its containers'
# root may chown, which the runc-spec default (AUDIT_WRITE, KILL,
# NET_BIND_SERVICE) does not allow
CONTAINERD_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                   "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                   "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]


def idmap_enabled() -> bool:
    out = subprocess.run([sys.executable, "-m", "pyrunc", "features"], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        return False
    doc = json.loads(out.stdout)
    return bool(doc.get("linux", {}).get("mountExtensions", {}).get("idmap", {}).get("enabled"))


pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not idmap_enabled(),
    reason="needs root and `pyrunc features` advertising linux.mountExtensions.idmap.enabled "
           "(idmapped mounts, issue 14)")


def chown_tree(root: Path, uid: int, gid: int) -> None:
    os.lchown(root, uid, gid)
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            os.lchown(os.path.join(dirpath, name), uid, gid)


def open_path(p: Path) -> None:
    """The mapped root must reach the bundle (pytest's tmp dirs are 0700)."""
    while str(p) not in ("/", "/tmp"):
        os.chmod(p, os.stat(p).st_mode | 0o055)
        p = p.parent


def test_user_namespaced_pod_with_idmapped_volume(pyrunc, make_bundle, tmp_path):
    vol = tmp_path / "volume"
    vol.mkdir()
    (vol / "root-file").write_text("root\n")
    (vol / "user-file").write_text("user\n")
    os.chown(vol / "user-file", 1000, 1000)
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "root-file").write_text("root\n")

    def sandbox_edit(c):
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = MAP
        c["linux"]["gidMappings"] = MAP
        c["root"]["readonly"] = False

    sandbox = make_bundle(["sleep", "1000"], edit=sandbox_edit)
    chown_tree(sandbox.rootfs, HOST_BASE, HOST_BASE)
    open_path(sandbox.path)
    sid = new_id("pod")
    pyrunc("create", "-b", str(sandbox.path), sid, check=True)
    pyrunc("start", sid, check=True)
    pid = pyrunc.state(sid)["pid"]

    script = ("stat -c '%n %u:%g' /vol/root-file /vol/user-file /plain/root-file;"
              "touch /vol/by-root; mkdir /vol/d; chown 1000:1000 /vol/d;"
              "cat /proc/self/uid_map")

    def container_edit(c):
        joined = {"user", "network", "ipc", "uts"}
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] not in joined]
        c["linux"]["namespaces"] += [{"type": t, "path": f"/proc/{pid}/ns/{f}"}
                                     for t, f in (("user", "user"), ("network", "net"), ("ipc", "ipc"), ("uts", "uts"))]
        c["linux"]["uidMappings"] = MAP
        c["linux"]["gidMappings"] = MAP
        c["root"]["readonly"] = False
        c["process"]["capabilities"] = {k: list(CONTAINERD_CAPS) for k in ("bounding", "effective", "permitted")}
        # sysfs stays: the joined net namespace is owned by the joined user namespace
        c["mounts"] += [
            {"destination": "/vol", "type": "bind", "source": str(vol), "options": ["rbind", "rw"],
             "uidMappings": MAP, "gidMappings": MAP},
            {"destination": "/plain", "type": "bind", "source": str(plain), "options": ["rbind", "ro"]},
        ]

    ctr = make_bundle(["sh", "-c", script], edit=container_edit)
    chown_tree(ctr.rootfs, HOST_BASE, HOST_BASE)
    open_path(ctr.path)
    p = pyrunc("run", "-b", str(ctr.path), new_id("ctr"))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    # inside: the idmapped volume shows the host ids; the plain bind, unmapped, shows nobody
    assert lines[:3] == ["/vol/root-file 0:0", "/vol/user-file 1000:1000", "/plain/root-file 65534:65534"], lines
    assert lines[3].split() == ["0", str(HOST_BASE), str(SIZE)]
    # on disk: what the container's root and uid 1000 made is owned by host 0 and 1000, not 100000+
    st = (vol / "by-root").stat()
    assert (st.st_uid, st.st_gid) == (0, 0)
    st = (vol / "d").stat()
    assert (st.st_uid, st.st_gid) == (1000, 1000)
    pyrunc("kill", sid, "KILL", check=True)
    pyrunc("delete", "--force", sid, check=True)


def test_idmap_on_a_filesystem_that_cannot_be_idmapped_is_refused(pyrunc, make_bundle):
    """/proc cannot be idmapped: one clear error naming the mount, nothing left."""
    def edit(c):
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = MAP
        c["linux"]["gidMappings"] = MAP
        c["mounts"].append({"destination": "/hostproc", "type": "bind", "source": "/proc",
                            "options": ["rbind", "ro"], "uidMappings": MAP, "gidMappings": MAP})

    b = make_bundle(["true"], edit=edit)
    chown_tree(b.rootfs, HOST_BASE, HOST_BASE)
    open_path(b.path)
    cid = new_id()
    p = pyrunc("run", "-b", str(b.path), cid)
    assert p.returncode != 0
    assert "/hostproc" in p.stderr, p.stderr
    assert cid not in pyrunc.ids()
