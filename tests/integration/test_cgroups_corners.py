"""runc's cgroup corners (issue 19): a frozen target cgroup, the fields runc
accepts and ignores on cgroup v2, `update --cpu-idle`.  Each runs the same
bundle under runc and pyrunc where runc has the feature.  The module name
puts it in the v2 VM tier's suite (tests/test_vm_tier.py), so the v1 cases
run on this hybrid host and the v2 ones in the VM."""
from __future__ import annotations

import os
import uuid

import pytest

from pyrunc.cgroups.detect import detect
from tests.conftest import cgroup_dirs_named, new_id

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (cgroups)")

LAYOUT = detect()
V2 = LAYOUT.mode == "v2"


def _freezer_root() -> str | None:
    if V2:
        return LAYOUT.unified
    return LAYOUT.v1.get("freezer")


class FrozenCgroup:
    """A cgroup made by the test (not by a runtime) and frozen."""

    def __init__(self, nested: str = "") -> None:
        root = _freezer_root()
        if root is None:
            pytest.skip("no freezer on this host (neither a v1 freezer hierarchy nor cgroup v2)")
        self.name = f"frz-{uuid.uuid4().hex[:8]}"
        self.dir = os.path.join(root, self.name)
        self.nested = nested
        os.mkdir(self.dir)
        if V2:
            self._write("cgroup.freeze", "1")
        else:
            self._write("freezer.state", "FROZEN")
        assert self.frozen()

    @property
    def cgroups_path(self) -> str:
        return "/" + self.name + (f"/{self.nested}" if self.nested else "")

    def _write(self, name: str, value: str) -> None:
        with open(os.path.join(self.dir, name), "w") as f:
            f.write(value)

    def frozen(self) -> bool:
        if V2:
            return open(os.path.join(self.dir, "cgroup.freeze")).read().strip() == "1"
        return open(os.path.join(self.dir, "freezer.state")).read().strip() == "FROZEN"

    def others(self) -> list[str]:
        """Directories named like it that the test did not make."""
        return [d for d in cgroup_dirs_named(self.name) if d != self.dir]

    def remove(self) -> None:
        self._write("cgroup.freeze" if V2 else "freezer.state", "0" if V2 else "THAWED")
        for d in [*self.others(), self.dir]:
            for sub, _dirs, _ in sorted(os.walk(d, topdown=False), key=lambda t: -len(t[0])):
                try:
                    os.rmdir(sub)
                except OSError:
                    pass


@pytest.fixture
def frozen_cgroup():
    made: list[FrozenCgroup] = []

    def make(nested: str = "") -> FrozenCgroup:
        made.append(FrozenCgroup(nested))
        return made[-1]

    yield make
    for f in made:
        f.remove()


def _create_into(rt, make_bundle, path: str):
    b = make_bundle(["sleep", "100"], lambda c: c["linux"].__setitem__("cgroupsPath", path))
    cid = new_id()
    return cid, rt("create", "--bundle", str(b.path), cid, timeout=60)


@pytest.mark.parametrize("runtime", ["runc", "pyrunc"])
def test_create_into_a_frozen_cgroup_fails_at_once_and_leaves_nothing(request, runtime, make_bundle, frozen_cgroup):
    """runc: `container's cgroup unexpectedly frozen`, exit 1, no state, no
    init, no cgroup directory made; the frozen cgroup is left as it was.
    (pyrunc used to hang with a frozen init and a `creating` state.)"""
    rt = request.getfixturevalue(runtime)
    fz = frozen_cgroup()
    cid, p = _create_into(rt, make_bundle, fz.cgroups_path)
    assert p.returncode == 1, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "container's cgroup unexpectedly frozen" in lines[0], p.stderr
    assert rt.ids() == []
    assert fz.others() == [], "cgroup directories left in other hierarchies"
    assert fz.frozen() and os.listdir(fz.dir)  # as it was: still there, still frozen
    with open(os.path.join(fz.dir, "cgroup.procs")) as f:
        assert f.read() == ""
    if runtime == "pyrunc":
        assert fz.dir in lines[0]  # names the freezer file that says so


def test_create_below_a_frozen_cgroup_fails_too(pyrunc, make_bundle, frozen_cgroup):
    """A container cgroup to be made inside a frozen one would be frozen as
    well (v1 freezer.state and v2 cgroup.events report the parent's): pyrunc
    refuses it the same way.  Not compared with runc: 1.1.5 checks only the
    container's own directory and hangs here."""
    fz = frozen_cgroup("inner")
    cid, p = _create_into(pyrunc, make_bundle, fz.cgroups_path)
    assert p.returncode == 1
    assert "container's cgroup unexpectedly frozen" in p.stderr and fz.dir in p.stderr, p.stderr
    assert pyrunc.ids() == []
    assert not os.path.exists(os.path.join(fz.dir, "inner"))
    assert fz.others() == []
