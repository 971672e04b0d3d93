"""Bad input: one clear error line, a non-zero exit, nothing left behind."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import cgroup_dirs_named, mounts_mentioning, new_id


def pids_of_bundle(bundle) -> list[int]:
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.readlink(f"/proc/{pid}/root").startswith(str(bundle)):
                    out.append(int(pid))
            except OSError:
                pass
    return out


def assert_clean_failure(rt, p, cid, bundle, phrase):
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert "Traceback" not in p.stderr
    assert phrase in lines[0], lines[0]
    assert not (rt.root / cid).exists()
    assert cgroup_dirs_named(cid) == []
    assert mounts_mentioning(str(bundle)) == []
    assert pids_of_bundle(bundle) == []


CASES = {
    "malformed json": (lambda b: (b / "config.json").write_text("{not json"), "config.json"),
    "wrong type": (lambda b: _edit(b, lambda c: c["process"].__setitem__("args", "sh")), "process.args"),
    "missing required": (lambda b: _edit(b, lambda c: c.pop("ociVersion")), "ociVersion"),
    "missing rootfs": (lambda b: os.rename(b / "rootfs", b / "gone"), "rootfs"),
    "relative cwd": (lambda b: _edit(b, lambda c: c["process"].__setitem__("cwd", "tmp")), "process.cwd"),
    "empty args": (lambda b: _edit(b, lambda c: c["process"].__setitem__("args", [])), "process.args"),
    "unknown namespace": (lambda b: _edit(b, lambda c: c["linux"]["namespaces"].append({"type": "bogus"})),
                          "linux.namespaces"),
    "duplicate namespace": (lambda b: _edit(b, lambda c: c["linux"]["namespaces"].append({"type": "pid"})),
                            "linux.namespaces"),
    "escaping mount": (lambda b: _edit(b, lambda c: c["mounts"].append(
        {"destination": "/../../../etc/evil", "type": "tmpfs", "source": "tmpfs"})), "mounts[7].destination"),
    "unknown capability": (lambda b: _edit(b, lambda c: c["process"]["capabilities"]["bounding"].append("CAP_BOGUS")),
                           "CAP_BOGUS"),
    "mapping without user ns": (lambda b: _edit(b, lambda c: c["linux"].__setitem__(
        "uidMappings", [{"containerID": 0, "hostID": 1000, "size": 1}])), "uidMappings"),
    "missing executable": (lambda b: _edit(b, lambda c: c["process"].__setitem__("args", ["/nope"])), "/nope"),
    "impossible mount": (lambda b: _edit(b, lambda c: c["mounts"].append(
        {"destination": "/x", "type": "nosuchfs", "source": "none"})), "mount /x"),
    "missing bind source": (lambda b: _edit(b, lambda c: c["mounts"].append(
        {"destination": "/x", "type": "bind", "source": "/does/not/exist", "options": ["bind"]})), "mounts[7].source"),
    "unknown seccomp action": (lambda b: _edit(b, lambda c: c["linux"].__setitem__(
        "seccomp", {"defaultAction": "SCMP_ACT_NOPE"})), "linux.seccomp.defaultAction"),
}


def _edit(bundle, fn):
    p = bundle / "config.json"
    c = json.loads(p.read_text())
    fn(c)
    p.write_text(json.dumps(c))


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_config_is_one_line_and_leaves_nothing(pyrunc, make_bundle, case):
    mutate, phrase = CASES[case]
    b = make_bundle(["true"])
    assert len(b.config["mounts"]) == 7  # the index in the expected field names
    mutate(b.path)
    cid = new_id()
    for cmd in ("create", "run"):
        p = pyrunc(cmd, "-b", str(b.path), cid)
        assert_clean_failure(pyrunc, p, cid, b.path, phrase)


@pytest.mark.parametrize("bad", ["../x", "a/b", "", "x" * 300, ".", "..", "a b"])
def test_bad_ids(pyrunc, make_bundle, bad):
    b = make_bundle(["true"])
    p = pyrunc("create", "-b", str(b.path), bad)
    assert p.returncode != 0
    assert "invalid container ID format" in p.stderr
    assert pyrunc.ids() == []


def test_existing_id(pyrunc, make_bundle):
    b = make_bundle(["sleep", "10"])
    cid = new_id()
    pyrunc("create", "-b", str(b.path), cid, check=True)
    pid = pyrunc.state(cid)["pid"]
    p = pyrunc("create", "-b", str(b.path), cid)
    assert p.returncode != 0 and "container with given ID already exists" in p.stderr
    assert pyrunc.state(cid)["pid"] == pid  # the first container is untouched
    pyrunc("delete", "--force", cid, check=True)


def test_missing_bundle(pyrunc, tmp_path):
    p = pyrunc("create", "-b", str(tmp_path / "nope"), new_id())
    assert p.returncode != 0 and len(p.stderr.strip().splitlines()) == 1 and "nope" in p.stderr


def test_systemd_cgroup_without_systemd_is_a_clear_error(pyrunc, make_bundle):
    """This host has no systemd as PID 1: --systemd-cgroup fails with one
    line naming the socket, and leaves no container, scope holder or cgroup
    (the driver itself runs in the systemd VM: tests/test_vm_systemd.py)."""
    import os

    if os.path.exists("/run/systemd/private"):
        pytest.skip("systemd runs here: the driver is exercised, not refused")
    cid = new_id()
    b = make_bundle(["true"], edit=lambda c: c["linux"].__setitem__("cgroupsPath", f"system.slice:pyrunc-test:{cid}"))
    p = subprocess.run([*pyrunc.argv, "--root", str(pyrunc.root), "--systemd-cgroup", "run", "-b", str(b.path),
                        cid], capture_output=True, text=True)
    assert p.returncode != 0 and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "systemd is not reachable" in p.stderr and "/run/systemd/private" in p.stderr
    assert pyrunc.ids() == []
    assert not any(os.path.exists(f"/sys/fs/cgroup/{c}/system.slice/pyrunc-test-{cid}.scope")
                   for c in ("memory", "pids", "unified", "systemd"))
