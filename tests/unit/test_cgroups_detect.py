"""Layout detection and placement (pure parsing + the real host)."""
from __future__ import annotations

import os

import pytest

from pyrunc.cgroups import clean_path, manager_for
from pyrunc.cgroups.detect import detect, own_cgroups, parse_mountinfo

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
"""
V2 = """\
25 20 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
"""
V1 = """\
32 31 0:29 /docker/abc /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/mem\\040ory rw,relatime - cgroup cgroup rw,memory,clone_children
"""


def test_hybrid_layout() -> None:
    lay = parse_mountinfo(HYBRID)
    assert lay.mode == "hybrid"
    assert lay.v1["cpu"] == lay.v1["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct"
    assert lay.v1["memory"] == "/sys/fs/cgroup/memory"
    assert lay.v1["name=systemd"] == "/sys/fs/cgroup/systemd"
    assert "xattr" not in lay.v1 and "rw" not in lay.v1
    assert lay.unified == "/sys/fs/cgroup/unified"


def test_v2_layout() -> None:
    lay = parse_mountinfo(V2)
    assert lay.mode == "v2"
    assert lay.v1 == {}
    assert lay.unified == "/sys/fs/cgroup"


def test_v1_layout_roots_and_escapes() -> None:
    lay = parse_mountinfo(V1)
    assert lay.mode == "v1"
    assert lay.unified is None
    assert lay.v1_roots["cpu"] == "/docker/abc"
    assert lay.v1["memory"] == "/sys/fs/cgroup/mem ory"
    assert "clone_children" not in lay.v1


def test_real_host_detection_matches_mountinfo() -> None:
    lay = detect(refresh=True)
    text = open("/proc/self/mountinfo").read()
    has_v2 = " - cgroup2 " in text
    has_v1 = " - cgroup cgroup " in text or " - cgroup " in text
    expected = "hybrid" if has_v1 and has_v2 else "v2" if has_v2 else "v1"
    assert lay.mode == expected
    for mnt in lay.v1.values():
        assert os.path.isdir(mnt)


def test_own_cgroups_parses_proc() -> None:
    own = own_cgroups()
    lay = detect()
    if lay.unified is not None:
        assert "" in own and own[""].startswith("/")
    for ctrl in lay.v1:
        if not ctrl.startswith("name="):
            assert ctrl in own


@pytest.mark.parametrize(
    "raw,clean",
    [
        ("/a/b/../c", "/a/c"),
        ("a/../../..", "."),
        ("../../etc", "etc"),
        ("x//y/", "x/y"),
        ("", ""),
    ],
)
def test_clean_path(raw: str, clean: str) -> None:
    assert clean_path(raw) == clean


def _dirs(m) -> list[str]:
    d = m.to_dict()
    if d["driver"] == "fs2":
        return [d["path"]]
    return list(d["paths"].values()) + ([d["unified"]] if d["unified"] else [])


def test_placement_absolute() -> None:
    m = manager_for("/pyrunc-test-abs/x", "cid")
    lay = detect()
    for d in _dirs(m):
        assert d.endswith("/pyrunc-test-abs/x")
    if m.driver == "fs1":
        assert m.paths["memory"] == os.path.join(lay.v1["memory"], "pyrunc-test-abs/x")
    else:
        assert m.dir == os.path.join(lay.unified, "pyrunc-test-abs/x")


def test_placement_relative_and_unset_follow_own_cgroup() -> None:
    own = own_cgroups()
    lay = detect()
    rel = manager_for("pyrunc-test-rel/y", "cid")
    unset = manager_for(None, "pyrunc-test-cid")
    if rel.driver == "fs1":
        for ctrl, d in rel.paths.items():
            base = own.get(ctrl, "/")
            assert d == os.path.normpath(os.path.join(lay.v1[ctrl], base.lstrip("/"), "pyrunc-test-rel/y"))
        assert unset.paths["pids" if "pids" in unset.paths else next(iter(unset.paths))].endswith("/pyrunc-test-cid")
        if lay.unified:
            assert rel.unified == os.path.normpath(os.path.join(lay.unified, own[""].lstrip("/"), "pyrunc-test-rel/y"))
    else:
        parent = os.path.dirname(own[""])
        assert rel.dir == os.path.normpath(os.path.join(lay.unified, parent.lstrip("/"), "pyrunc-test-rel/y"))
        assert unset.dir == os.path.normpath(os.path.join(lay.unified, parent.lstrip("/"), "pyrunc-test-cid"))


def test_systemd_driver_selected() -> None:
    """manager_for(systemd=True) gives the systemd driver (no D-Bus until
    create): runc's default scope runc-<id>.scope in system.slice."""
    m = manager_for(None, "x", systemd=True)
    assert m.driver in ("systemd1", "systemd2") and m.unit == "runc-x.scope" and m.slice == "system.slice"


def test_import_is_cheap() -> None:
    import subprocess
    import sys

    code = (
        "import sys, pyrunc.cgroups, pyrunc.cgroups.detect;"
        "bad=[m for m in sys.modules if m.split('.')[0] in ('pydantic','jsonschema','cffi','ctypes')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
