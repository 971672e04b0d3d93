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


# ------------------------------------------- 19.11 fields v2 has no file for

V2_IGNORED = {
    "memory.swappiness": ("memory", {"swappiness": 30}),
    "memory.disableOOMKiller": ("memory", {"disableOOMKiller": True}),
    "cpu.realtimeRuntime": ("cpu", {"realtimeRuntime": 1000}),
    "cpu.realtimePeriod": ("cpu", {"realtimePeriod": 100000}),
    "blockIO.leafWeight": ("blockIO", {"weight": 200, "leafWeight": 300}),
    "network.classID": ("network", {"classID": 1048577}),
    "network.priorities": ("network", {"priorities": [{"name": "eth0", "priority": 5}]}),
}


@pytest.mark.skipif(not V2, reason="cgroup v2 only: on v1 these fields are written (test_cgroups_runc_compare.py)")
@pytest.mark.parametrize("field", sorted(V2_IGNORED))
def test_fields_v2_has_no_file_for_are_accepted_with_a_warning(field, pyrunc, runc, make_bundle, tmp_path):
    """runc accepts these on cgroup v2 and ignores them; so does pyrunc, with
    a warning in its log naming the field (it used to refuse the config)."""
    import json

    key, value = V2_IGNORED[field]
    b = make_bundle(["true"], lambda c: c["linux"].setdefault("resources", {}).__setitem__(key, value))
    r = runc("run", "--bundle", str(b.path), new_id())
    log = tmp_path / f"{field}.log"
    p = pyrunc("--log", str(log), "--log-format", "json", "run", "--bundle", str(b.path), new_id())
    assert (p.returncode, r.returncode) == (0, 0), (p.stderr, r.stderr)
    warnings = [json.loads(ln)["msg"] for ln in log.read_text().splitlines() if '"warning"' in ln]
    assert any(f"linux.resources.{field}" in w and "ignored" in w for w in warnings), warnings


# ------------------------------------------------- 19.12 update --cpu-idle

def test_update_cpu_idle(pyrunc, make_bundle):
    """cpu.idle (SCHED_IDLE for the cgroup): on v2 and on v1's cpu hierarchy
    where the kernel has it (5.15+); 0 or 1, anything else one clear error.
    Not compared: runc 1.1.5 has no --cpu-idle (runc 1.2 added it)."""
    import json

    from pyrunc.cgroups.base import Manager

    b = make_bundle(["sleep", "1000"])
    cid = new_id()
    pyrunc("run", "-d", "--bundle", str(b.path), cid, check=True)
    state = json.loads((pyrunc.root / cid / "state.json").read_text())
    d = Manager.from_dict(state["cgroup"]).path("cpu" if not V2 else "")
    if not d or not os.path.exists(os.path.join(d, "cpu.idle")):
        p = pyrunc("update", "--cpu-idle", "1", cid)
        assert p.returncode == 1 and "cpu.idle is not available" in p.stderr, p.stderr
        pyrunc("delete", "--force", cid, check=True)
        pytest.skip("this kernel has no cpu.idle: the clear error was checked")
    for v in ("1", "0"):
        pyrunc("update", "--cpu-idle", v, cid, check=True)
        assert open(os.path.join(d, "cpu.idle")).read().strip() == v
    p = pyrunc("update", "--cpu-idle", "2", cid)
    assert p.returncode == 1 and "--cpu-idle" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    pyrunc("delete", "--force", cid, check=True)
