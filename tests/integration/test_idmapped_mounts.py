"""Idmapped bind mounts (runtime-spec 1.2, config.md "Mounts"): a mount's
`uidMappings`/`gidMappings` and the `idmap`/`ridmap` options.

The launcher opens the bind with the host's credentials and idmaps it
(mount_setattr MOUNT_ATTR_IDMAP) with a user namespace carrying the mount's
mapping, or the container's when the mount has none.  A mapping entry
{containerID: c, hostID: h} makes an id c on the source filesystem show as
host id h at the destination (and h written through the mount land as c).

Debian's runc 1.1.5 predates idmapped mounts (runc 1.2): it ignores a mount's
mappings and makes a plain bind, which the first test shows side by side.
Everything else is checked against the spec and the kernel's rules, not runc.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import mounts_mentioning, new_id

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="idmapped mounts need root (mount_setattr, user namespaces)")

BASE = 100000
SIZE = 65536
MAP = [{"containerID": 0, "hostID": BASE, "size": SIZE}]
OVERFLOW = int(open("/proc/sys/kernel/overflowuid").read())
# containerd's default set: the tests' container root chowns
CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_SETUID", "CAP_SETGID", "CAP_KILL",
        "CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE"]


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


def userns(c: dict, uid_map: list = MAP) -> None:
    c["linux"]["namespaces"].append({"type": "user"})
    c["linux"]["uidMappings"] = uid_map
    c["linux"]["gidMappings"] = uid_map


def caps(c: dict) -> None:
    c["process"]["capabilities"] = {k: list(CAPS) for k in ("bounding", "effective", "permitted")}


def bind(src: Path, dest: str, options: list[str], maps: list | None = None) -> dict:
    m = {"destination": dest, "type": "bind", "source": str(src), "options": options}
    if maps is not None:
        m["uidMappings"] = maps
        m["gidMappings"] = maps
    return m


def owners(p: Path) -> tuple[int, int]:
    st = os.lstat(p)
    return st.st_uid, st.st_gid


@pytest.fixture
def volume(tmp_path: Path) -> Path:
    """A root-owned source directory (0755) with a root-owned and a
    1000-owned file."""
    vol = tmp_path / "volume"
    vol.mkdir()
    (vol / "root-file").write_text("root\n")
    (vol / "user-file").write_text("user\n")
    os.chown(vol / "user-file", 1000, 1000)
    os.chmod(vol, 0o755)
    return vol


def make_userns_bundle(make_bundle, script: str, mounts: list[dict], uid_map: list = MAP):
    def edit(c):
        userns(c, uid_map)
        caps(c)
        c["mounts"] += mounts

    b = make_bundle(["sh", "-c", script], edit=edit)
    chown_tree(b.rootfs, uid_map[0]["hostID"], uid_map[0]["hostID"])
    open_path(b.path)
    return b


STAT = "stat -c '%n %u:%g' "


def test_mount_mappings_in_a_user_namespace(pyrunc, runc, make_bundle, volume, tmp_path):
    """The Kubernetes shape (hostUsers: false): the container's user
    namespace maps 0-65535 to 100000-165535 and the volume carries the same
    mapping.  Inside, the volume's files show their on-disk owners (a plain
    bind shows them unmapped, as nobody); what the container's root and uid
    1000 create is owned on disk by 0 and 1000, not 100000+.  runc 1.1.5
    ignores the mount's mappings (a plain bind), so its container sees
    nobody and cannot write into the root-owned 0755 volume."""
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "root-file").write_text("root\n")
    script = (STAT + "/vol/root-file /vol/user-file /plain/root-file;"
              "touch /vol/by-root && mkdir /vol/d && chown 1000:1000 /vol/d && su user -c 'touch /vol/d/by-user'"
              " && echo wrote")
    b = make_userns_bundle(make_bundle, script, [bind(volume, "/vol", ["rbind", "rw"], MAP),
                                                bind(plain, "/plain", ["rbind", "ro"])])
    p = pyrunc("run", "-b", str(b.path), new_id())
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["/vol/root-file 0:0", "/vol/user-file 1000:1000",
                                     f"/plain/root-file {OVERFLOW}:{OVERFLOW}", "wrote"], p.stderr
    assert owners(volume / "by-root") == (0, 0)
    assert owners(volume / "d") == (1000, 1000)
    assert owners(volume / "d" / "by-user") == (1000, 1000)

    # runc 1.1.5 on the same bundle: the mappings are ignored
    for made in (volume / "d" / "by-user", volume / "d", volume / "by-root"):
        made.rmdir() if made.is_dir() else made.unlink()
    r = runc("run", "-b", str(b.path), new_id("runc"))
    first = r.stdout.splitlines()[:2]
    assert first == [f"/vol/root-file {OVERFLOW}:{OVERFLOW}", f"/vol/user-file {OVERFLOW}:{OVERFLOW}"], (r.stdout,
                                                                                                       r.stderr)
    assert "wrote" not in r.stdout and not (volume / "by-root").exists()


def test_idmap_option_without_mappings_takes_the_containers(pyrunc, make_bundle, volume):
    """`idmap` with no uidMappings/gidMappings: the container's user
    namespace mapping (config.md: "the runtime MAY use the container's user
    namespace mapping")."""
    script = STAT + "/vol/root-file /vol/user-file; touch /vol/made"
    b = make_userns_bundle(make_bundle, script, [bind(volume, "/vol", ["rbind", "idmap"])])
    p = pyrunc("run", "-b", str(b.path), new_id())
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["/vol/root-file 0:0", "/vol/user-file 1000:1000"]
    assert owners(volume / "made") == (0, 0)


def test_idmap_option_in_a_joined_user_namespace(pyrunc, make_bundle, volume):
    """A container joining a pod's user namespace by path with `idmap` and
    no mappings: the mapping is the joined namespace's."""
    def sandbox_edit(c):
        userns(c)
        c["root"]["readonly"] = False

    sandbox = make_bundle(["sleep", "1000"], edit=sandbox_edit)
    chown_tree(sandbox.rootfs, BASE, BASE)
    open_path(sandbox.path)
    sid = new_id("pod")
    pyrunc("run", "-d", "-b", str(sandbox.path), sid, check=True)
    try:
        pid = pyrunc.state(sid)["pid"]

        def edit(c):
            c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "user"]
            c["linux"]["namespaces"].append({"type": "user", "path": f"/proc/{pid}/ns/user"})
            caps(c)
            c["mounts"].append(bind(volume, "/vol", ["rbind", "idmap"]))

        b = make_bundle(["sh", "-c", STAT + "/vol/user-file; id -u; touch /vol/made"], edit=edit)
        chown_tree(b.rootfs, BASE, BASE)
        open_path(b.path)
        p = pyrunc("run", "-b", str(b.path), new_id())
        assert p.returncode == 0, p.stderr
        assert p.stdout.splitlines() == ["/vol/user-file 1000:1000", "0"]
        assert owners(volume / "made") == (0, 0)
    finally:
        pyrunc("delete", "--force", sid)


def test_mount_mapping_differs_from_the_containers(pyrunc, make_bundle, volume):
    """A mapping of the mount's own, unlike the container's: host uid 1000's
    files show as the container's root (host 100000), and the container's
    root writes as 1000; ids outside the mapping show as nobody.  (The
    volume directory is given to 1000: the kernel refuses any write to an
    inode whose owner the mount's mapping leaves unmapped, whatever its
    mode.)"""
    os.chown(volume, 1000, 1000)
    own = [{"containerID": 1000, "hostID": BASE, "size": 1}]
    script = STAT + "/vol /vol/user-file /vol/root-file; touch /vol/made; mkdir /vol/dir"
    b = make_userns_bundle(make_bundle, script, [bind(volume, "/vol", ["rbind", "idmap"], own)])
    p = pyrunc("run", "-b", str(b.path), new_id())
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["/vol 0:0", "/vol/user-file 0:0", f"/vol/root-file {OVERFLOW}:{OVERFLOW}"]
    assert owners(volume / "made") == (1000, 1000)
    assert owners(volume / "dir") == (1000, 1000)


def test_mount_mappings_without_a_user_namespace(pyrunc, make_bundle, volume):
    """The kernel needs no user namespace in the container for an idmapped
    mount, and the spec asks for none when the mount has mappings of its
    own: the host-root container sees uid 1000's files as its own and
    writes as 1000 (runc 1.2's first releases refused this; later ones and
    crun allow it).  Host root's own files show as nobody."""
    os.chown(volume, 1000, 1000)
    own = [{"containerID": 1000, "hostID": 0, "size": 1}]

    def edit(c):
        c["mounts"].append(bind(volume, "/vol", ["rbind", "ridmap"], own))

    b = make_bundle(["sh", "-c", STAT + "/vol/user-file /vol/root-file; touch /vol/made"], edit=edit)
    p = pyrunc("run", "-b", str(b.path), new_id())
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["/vol/user-file 0:0", f"/vol/root-file {OVERFLOW}:{OVERFLOW}"]
    assert owners(volume / "made") == (1000, 1000)


@pytest.fixture
def tree_with_submount(tmp_path: Path):
    """volume/ with a bind of another directory mounted at volume/sub (a
    submount an rbind copies), unmounted afterwards."""
    top = tmp_path / "top"
    (top / "sub").mkdir(parents=True)
    (top / "top-file").write_text("t\n")
    other = tmp_path / "other"
    other.mkdir()
    (other / "sub-file").write_text("s\n")
    os.chmod(other, 0o755)
    subprocess.run(["mount", "--bind", str(other), str(top / "sub")], check=True)
    try:
        yield top, other
    finally:
        subprocess.run(["umount", "-l", str(top / "sub")], check=False)
    assert not mounts_mentioning(str(top))


@pytest.mark.parametrize("option", ["ridmap", "idmap"])
def test_ridmap_reaches_submounts_idmap_does_not(pyrunc, make_bundle, tree_with_submount, option):
    """An rbind of a tree with a submount: `ridmap` idmaps every mount of it
    (mount_setattr with AT_RECURSIVE), `idmap` the top one only: the
    submount's files then show unmapped (nobody) and cannot be written."""
    top, other = tree_with_submount
    script = STAT + "/vol/top-file /vol/sub/sub-file; touch /vol/sub/made && echo wrote"
    b = make_userns_bundle(make_bundle, script, [bind(top, "/vol", ["rbind", option], MAP)])
    p = pyrunc("run", "-b", str(b.path), new_id())
    lines = p.stdout.splitlines()
    assert lines[0] == "/vol/top-file 0:0", (p.stdout, p.stderr)
    if option == "ridmap":
        assert p.returncode == 0, p.stderr
        assert lines[1:] == ["/vol/sub/sub-file 0:0", "wrote"]
        assert owners(other / "made") == (0, 0)
    else:
        assert lines[1:] == [f"/vol/sub/sub-file {OVERFLOW}:{OVERFLOW}"]
        assert not (other / "made").exists()


def assert_refused(pyrunc, b, *fragments: str) -> None:
    cid = new_id()
    p = pyrunc("run", "-b", str(b.path), cid)
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    for frag in fragments:
        assert frag in lines[0], lines[0]
    assert cid not in pyrunc.ids()
    assert not mounts_mentioning(str(b.rootfs))


def test_filesystem_that_cannot_be_idmapped(pyrunc, make_bundle):
    """procfs has no FS_ALLOW_IDMAP: the kernel's EINVAL becomes one line
    naming the mount."""
    b = make_userns_bundle(make_bundle, "true", [bind(Path("/proc"), "/hostproc", ["rbind", "ro"], MAP)])
    i = len(b.config["mounts"]) - 1
    assert_refused(pyrunc, b, f"mounts[{i}]", "/hostproc", "cannot be idmapped")


def test_ridmap_over_a_submount_that_cannot_be_idmapped(pyrunc, make_bundle, tmp_path):
    top = tmp_path / "top"
    (top / "proc").mkdir(parents=True)
    subprocess.run(["mount", "-t", "proc", "proc", str(top / "proc")], check=True)
    try:
        b = make_userns_bundle(make_bundle, "true", [bind(top, "/vol", ["rbind", "ridmap"], MAP)])
        i = len(b.config["mounts"]) - 1
        assert_refused(pyrunc, b, f"mounts[{i}]", "ridmap", "cannot be idmapped")
        # the top mount alone can be
        b2 = make_userns_bundle(make_bundle, "true", [bind(top, "/vol", ["rbind", "idmap"], MAP)])
        pyrunc("run", "-b", str(b2.path), new_id(), check=True)
    finally:
        subprocess.run(["umount", "-l", str(top / "proc")], check=False)


@pytest.mark.parametrize("mount,field,fragment", [
    ({"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]},
     "mounts[{i}]", "bind mounts only"),
    ({"destination": "/v", "type": "bind", "source": "/tmp", "options": ["rbind"], "uidMappings": MAP},
     "mounts[{i}].gidMappings", "both uidMappings and gidMappings"),
    ({"destination": "/v", "type": "bind", "source": "/tmp", "options": ["rbind", "idmap"], "uidMappings": MAP,
      "gidMappings": [{"containerID": 0, "hostID": 1, "size": 10}, {"containerID": 5, "hostID": 50, "size": 1}]},
     "mounts[{i}].gidMappings[1].containerID", "overlap"),
    ({"destination": "/v", "type": "bind", "source": "/tmp", "options": ["rbind", "idmap"]},
     "mounts[{i}].options", "no user namespace"),
], ids=["tmpfs", "uid-only", "overlap", "idmap-no-userns"])
def test_bad_idmap_config(pyrunc, make_bundle, mount, field, fragment):
    """One line naming the field, exit 1, nothing left; `validate` says the
    same."""
    b = make_bundle(["true"], edit=lambda c: c["mounts"].append(mount))
    i = len(b.config["mounts"]) - 1
    assert_refused(pyrunc, b, f"{field.format(i=i)}: ", fragment)
    v = pyrunc("validate", "-q", "-b", str(b.path))
    assert v.returncode != 0 and f"{field.format(i=i)}: " in v.stdout + v.stderr, (v.stdout, v.stderr)
