"""The systemd VM tier: Debian's kernel under qemu (TCG) with Debian's
systemd 252 as PID 1, pure cgroup v2 and AppArmor (tests/vm/vmsd.py), and in
it pyrunc `--systemd-cgroup` side by side with runc `--systemd-cgroup`
(tests/vm/guest_systemd.py): the scope unit and its properties, the cgroup
files, a memory limit that holds, update / pause / resume / events --stats /
ps / kill --all / delete; runc's default cgroupsPath; containerd's runc shim with
SystemdCgroup and either runtime; podman with cgroup_manager = "systemd";
AppArmor confinement
seen from inside a container (init and exec) and an unknown profile refused.

One boot serves the module (12-35 s to the unit; 100-180 s in all, up to
~4 min when the host is loaded).  Skipped
only where the host cannot boot the guest (no qemu, no kernel, no systemd on
this root) or inside a VM already.  Run it alone with ``pytest -m vm
tests/test_vm_systemd.py``; PYRUNC_VMSD_TIMEOUT (s, default 480)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "vm"))

import vmsd  # noqa: E402

REASON = vmsd.host_can_boot()
pytestmark = [
    pytest.mark.vm,
    pytest.mark.skipif(os.environ.get("PYRUNC_IN_VM") == "1", reason="already inside a test VM (no nested qemu)"),
    pytest.mark.skipif(REASON is not None, reason=f"cannot boot the systemd guest: {REASON}"),
]
TIMEOUT = float(os.environ.get("PYRUNC_VMSD_TIMEOUT", "480"))


@pytest.fixture(scope="module")
def guest() -> dict:
    r = vmsd.run_systemd_vm(["python3", "tests/vm/guest_systemd.py"], TIMEOUT)
    recs: dict = {}
    for line in r.output.splitlines():
        if line.startswith("VMSD-JSON "):
            d = json.loads(line[len("VMSD-JSON "):])
            key = d["part"] + ("/" + d["runtime"] if "runtime" in d else "")
            recs[key] = d
    print(f"systemd VM: boot {r.boot_seconds and round(r.boot_seconds, 1)} s, total {r.total_seconds:.1f} s")
    assert r.returncode == 0 and "done" in recs, r.output[-3000:]
    recs["_timing"] = {"boot": r.boot_seconds, "total": r.total_seconds}
    return recs


def test_guest_is_a_systemd_host(guest):
    env = guest["env"]
    assert env["pid1"] == "systemd" and env["fstype"] == "cgroup2fs" and env["apparmor"] == "Y"
    assert env["features"]["systemd"] is True


@pytest.mark.parametrize("rt", ["runc", "pyrunc"])
def test_lifecycle_under_the_systemd_driver(guest, rt):
    r = guest[f"lifecycle/{rt}"]
    assert r["create"][0] == 0, r["create"]
    u = r["unit_after_create"]
    unit = r["unit"]
    # the nested slice expanded the way systemd names it
    assert u["ControlGroup"] == f"/vmsd.slice/vmsd-t.slice/{unit}"
    assert (u["Slice"], u["Delegate"], u["DefaultDependencies"], u["ActiveState"]) == \
        ("vmsd-t.slice", "yes", "no", "active")
    assert (u["MemoryMax"], u["TasksMax"], u["CPUQuotaPerSecUSec"]) == (str(64 << 20), "50", "500ms")
    assert r["files"] == {"memory.max": str(64 << 20), "pids.max": "50", "cpu.max": "50000 100000"}
    # the init alone in the scope's cgroup (pyrunc's holder is gone)
    assert r["procs_after_create"] == [r["init_pid"]]
    assert r["init_cgroup"] == "0::" + u["ControlGroup"]
    assert r["start"] == 0 and r["exec_cgroup"] == [0, "0::/"]
    # the memory limit holds: a 100 MiB allocation is OOM-killed
    assert r["oom"][1] == "rc=137", r["oom"]
    assert "oom_kill 1" in r["memory_events"]
    assert r["update"][0] == 0, r["update"]
    assert r["unit_after_update"] == {"MemoryMax": str(32 << 20), "TasksMax": "40"}
    assert r["files_after_update"] == {"memory.max": str(32 << 20), "pids.max": "40"}
    assert r["pause"] == [0, "1", "paused"] and r["resume"] == [0, "0", "running"]
    assert r["stats"]["pids"] == 1 and r["stats"]["memory_usage"] > 0
    assert r["ps"][0] == 0 and str(r["init_pid"]) in r["ps"][1]
    assert r["kill_all"] == 0 and r["status_after_kill"] == "stopped"
    assert r["delete"][0] == 0, r["delete"]
    assert r["unit_after_delete"] == {"LoadState": "not-found", "ActiveState": "inactive"}
    assert r["cgroup_after_delete"] is False


@pytest.mark.parametrize("rt", ["runc", "pyrunc"])
def test_default_cgroups_path_is_runc_scope_in_system_slice(guest, rt):
    r = guest[f"default_path/{rt}"]
    assert r["create"][0] == 0, r["create"]
    assert r["unit"] == {"ControlGroup": f"/system.slice/runc-dflt-{rt}.scope", "ActiveState": "active"}
    assert r["delete"][0] == 0, r["delete"]
    assert r["after"]["ActiveState"] == "inactive"


def test_pyrunc_matches_runc_under_systemd(guest):
    a, b = guest["lifecycle/runc"], guest["lifecycle/pyrunc"]
    for key in ("files", "exec_cgroup", "unit_after_update", "files_after_update", "pause", "resume",
                "unit_after_delete", "cgroup_after_delete"):
        assert a[key] == b[key], key
    same = ("Slice", "Delegate", "DefaultDependencies", "MemoryMax", "TasksMax", "CPUQuotaPerSecUSec", "ActiveState")
    assert {k: a["unit_after_create"][k] for k in same} == {k: b["unit_after_create"][k] for k in same}


def test_apparmor_profile_loaded(guest):
    r = guest["apparmor_load"]
    assert r["rc"] == 0 and r["loaded"], r


@pytest.mark.parametrize("rt", ["runc", "pyrunc"])
def test_apparmor_confines_init_and_exec(guest, rt):
    r = guest[f"apparmor/{rt}"]
    assert r["create"][0] == 0, r["create"]
    init_lines = r["init_output"].splitlines()
    assert "pyrunc-vmsd (enforce)" in init_lines and init_lines[-1] == "DENIED", r["init_output"]
    assert r["exec_attr"] == [0, "pyrunc-vmsd (enforce)"]
    assert r["exec_read"] == "DENIED"


@pytest.mark.parametrize("rt", ["runc", "pyrunc"])
def test_unknown_apparmor_profile_is_an_error(guest, rt):
    r = guest[f"apparmor/{rt}"]
    assert r["unknown_profile"][0] != 0
    assert "apparmor" in r["unknown_profile"][1].lower()
    assert f"bad-{rt}" not in r["unknown_left"][0]  # nothing left: no container, no unit
    assert r["unknown_left"][1] == {"LoadState": "not-found"}


def test_dbus_client_cost_measured(guest):
    """jeepney over /run/systemd/private: the probe's figures (TCG: ~20x the
    host's) are printed for the note; the driver's create works each time."""
    r = guest["dbus_cost"]
    assert r["probe"][0] == 0, r["probe"]
    probe = json.loads(r["probe"][1])
    assert probe["socket"] == "/run/systemd/private"
    assert not r.get("errors"), r.get("errors")
    print("dbus probe (TCG):", probe, "create seconds (TCG):", r["create_s"], "boot/total:", guest["_timing"])


@pytest.mark.parametrize("rt", ["runc", "pyrunc"])
def test_containerd_with_the_systemd_driver(guest, rt):
    """containerd 1.6's runc v2 shim with SystemdCgroup (ctr's
    --runc-systemd-cgroup) and the runtime binary set to runc or pyrunc."""
    if "containerd" not in guest:
        pytest.skip("containerd is not installed in this root (PYRUNC_VMSD_CONTAINERD=0 or no binary)")
    c = guest["containerd"]
    assert c["import"][0] == 0, c
    r = c[rt]
    assert r["run"][0] == 0, (r, c.get("log_tail"))
    unit = f"vmsdctr-ctr{rt}.scope"
    assert r["unit"] == {"ControlGroup": f"/system.slice/{unit}", "Delegate": "yes",
                         "MemoryMax": str(48 << 20), "ActiveState": "active"}
    assert r["memory.max"] == str(48 << 20)
    assert r["exec"] == [0, f"0::/system.slice/{unit}"]  # ctr gives no cgroup namespace
    assert r["task_rm"][0] == 0
    assert r["unit_after"] == {"LoadState": "not-found", "ActiveState": "inactive"}


@pytest.mark.parametrize("rt", ["runc", "pyrunc"])
def test_podman_with_the_systemd_cgroup_manager(guest, rt):
    """podman 4.3 with cgroup_manager = "systemd" (dbus.socket started in the
    guest: podman asks systemd over the system bus for conmon's scope):
    the runtime gets --systemd-cgroup and machine.slice:libpod:<id>."""
    if "podman" not in guest:
        pytest.skip("podman is not installed in this root (PYRUNC_VMSD_PODMAN=0 or no binary)")
    p = guest["podman"]
    assert p["load"][0] == 0, p["load"]
    if rt not in p:
        pytest.skip("podman with runc runs only with PYRUNC_VMSD_PODMAN_RUNC=1 (time budget; it passes)")
    r = p[rt]
    assert r["run"][0] == 0, r["run"]
    unit = f"libpod-{r['id']}.scope"
    assert r["cgroup"] == f"0::/machine.slice/{unit}"
    assert r["unit"] == {"Slice": "machine.slice", "ControlGroup": f"/machine.slice/{unit}",
                         "MemoryMax": str(40 << 20), "ActiveState": "active"}
    assert r["rm"][0] == 0, r["rm"]
    assert r["unit_after"] == {"LoadState": "not-found", "ActiveState": "inactive"}
