"""The systemd cgroup driver's pure parts: cgroupsPath parsing, slice
expansion and unit naming (runc's rules), and linux.resources -> unit
properties for v2 and v1 hosts (runc's genV{1,2}ResourcesProperties).
Containers under the driver run in the systemd VM (tests/test_vm_systemd.py)."""
from __future__ import annotations

import pytest

from pyrunc.cgroups import systemd as sd
from pyrunc.cgroups.base import Manager
from pyrunc.errors import CgroupError, ConfigError, UnsupportedError

MAX = (1 << 64) - 1


@pytest.mark.parametrize("path,expect", [
    (None, ("system.slice", "runc", "cid")),
    ("", ("system.slice", "runc", "cid")),
    ("kubepods-burstable-pod12.slice:cri-containerd:abc", ("kubepods-burstable-pod12.slice", "cri-containerd", "abc")),
    (":crio:x", ("system.slice", "crio", "x")),
    ("machine.slice:libpod:", ("machine.slice", "libpod", "cid")),
])
def test_parse_path(path, expect):
    assert sd.parse_path(path, "cid") == expect


def test_parse_path_rootless_default_slice():
    assert sd.parse_path("", "cid", rootless=True) == ("user.slice", "runc", "cid")


@pytest.mark.parametrize("bad", ["/a/b", "a:b", "a:b:c:d"])
def test_parse_path_bad(bad):
    with pytest.raises(ConfigError, match="slice:prefix:name"):
        sd.parse_path(bad, "cid")


@pytest.mark.parametrize("sl,expect", [
    ("system.slice", "/system.slice"),
    ("a-b.slice", "/a.slice/a-b.slice"),
    ("kubepods-burstable-pod12.slice", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12.slice"),
    ("-", "/"),
    ("-.slice", "/"),
])
def test_expand_slice(sl, expect):
    assert sd.expand_slice(sl) == expect


@pytest.mark.parametrize("bad", ["a--b.slice", "-a.slice", "a-.slice", "a/b.slice", "system", ".slice"])
def test_expand_slice_bad(bad):
    with pytest.raises(ConfigError, match="invalid slice name"):
        sd.expand_slice(bad)


def test_unit_name():
    assert sd.unit_name("cri-containerd", "abc") == "cri-containerd-abc.scope"
    assert sd.unit_name("", "abc") == "-abc.scope"  # runc does the same
    with pytest.raises(CgroupError, match="slice unit"):
        sd.unit_name("p", "pod.slice")


def test_rootless_refused_clearly():
    with pytest.raises(UnsupportedError, match="systemdUser"):
        sd.manager("", "cid", rootless=True)


def props(lst):
    return dict(lst)


def test_v2_memory_pids_cpu():
    p = props(sd.v2_properties({"memory": {"limit": 64 << 20, "reservation": 32 << 20, "swap": 96 << 20},
                                "pids": {"limit": 50},
                                "cpu": {"shares": 1024, "quota": 50000, "period": 100000,
                                        "cpus": "0-1,3", "mems": "0"}}, devices=False))
    assert p["MemoryMax"] == ("t", 64 << 20)
    assert p["MemoryLow"] == ("t", 32 << 20)
    assert p["MemorySwapMax"] == ("t", 32 << 20)  # v1 memory+swap -> swap only
    assert p["TasksMax"] == ("t", 50)
    assert p["CPUWeight"] == ("t", 39)  # runc's shares -> weight
    assert p["CPUQuotaPerSecUSec"] == ("t", 500000)
    assert p["CPUQuotaPeriodUSec"] == ("t", 100000)
    assert p["AllowedCPUs"] == ("ay", bytes([0b1011]))
    assert p["AllowedMemoryNodes"] == ("ay", b"\x01")
    assert "DeviceAllow" not in p


def test_v2_unlimited_values_are_infinity():
    p = props(sd.v2_properties({"memory": {"limit": -1}, "pids": {"limit": -1}, "cpu": {"quota": -1}},
                               devices=False))
    assert p["MemoryMax"] == ("t", MAX) and p["TasksMax"] == ("t", MAX)
    assert p["CPUQuotaPerSecUSec"] == ("t", MAX)


def test_cpu_quota_rounded_up_to_10ms_like_runc():
    assert props(sd._cpu_quota({"quota": 12345, "period": 100000}))["CPUQuotaPerSecUSec"] == ("t", 130000)
    assert props(sd._cpu_quota({"quota": 20000}))["CPUQuotaPerSecUSec"] == ("t", 200000)
    assert "CPUQuotaPeriodUSec" not in props(sd._cpu_quota({"quota": 20000}))
    assert sd._cpu_quota({}) == []


def test_v2_io():
    p = props(sd.v2_properties({"blockIO": {"weight": 500,
                                            "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                                            "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}],
                                            "weightDevice": [{"major": 8, "minor": 16, "weight": 10}]}},
                               devices=False))
    assert p["IOWeight"] == ("t", 1 + (490 * 9999) // 990)
    assert p["IOReadBandwidthMax"] == ("a(st)", [("/dev/block/8:0", 1048576)])
    assert p["IOWriteIOPSMax"] == ("a(st)", [("/dev/block/8:0", 100)])
    assert p["IODeviceWeight"] == ("a(st)", [("/dev/block/8:16", 1)])


def test_v2_unified_keys():
    p = props(sd.v2_properties({"unified": {"memory.high": "1000000", "pids.max": "max", "cpu.max": "20000 50000",
                                            "io.max": "8:0 rbps=1"}}, devices=False))
    assert p["MemoryHigh"] == ("t", 1000000)
    assert p["TasksMax"] == ("t", MAX)
    assert p["CPUQuotaPerSecUSec"] == ("t", 400000) and p["CPUQuotaPeriodUSec"] == ("t", 50000)
    assert "io.max" not in p  # no property: written to the file only
    with pytest.raises(ConfigError, match="unified.memory.max"):
        sd.v2_properties({"unified": {"memory.max": "lots"}}, devices=False)


def test_devices_default_rules_are_strict_allow_list():
    p = props(sd.v2_properties({"devices": [{"allow": False, "access": "rwm"}]}))
    assert p["DevicePolicy"] == ("s", "strict")
    allowed = dict(p["DeviceAllow"][1])
    assert allowed["/dev/char/1:3"] == "rwm"  # /dev/null, runc's default list
    assert allowed["/dev/char/5:2"] == "rwm"  # /dev/ptmx
    assert "char-pts" in allowed  # 136:* by its /proc/devices name


def test_devices_allow_all():
    p = props(sd.v2_properties({"devices": [{"allow": True, "access": "rwm"}]}))
    assert p["DevicePolicy"] == ("s", "auto") and p["DeviceAllow"] == ("a(ss)", [])


def test_v1_names():
    p = props(sd.v1_properties({"memory": {"limit": 1 << 20}, "cpu": {"shares": 512, "quota": 10000},
                                "blockIO": {"weight": 300}, "pids": {"limit": 7}}, devices=False))
    assert p == {"MemoryLimit": ("t", 1 << 20), "CPUShares": ("t", 512), "CPUQuotaPerSecUSec": ("t", 100000),
                 "BlockIOWeight": ("t", 300), "TasksMax": ("t", 7)}


def test_scope_properties():
    p = props(sd.scope_properties("a-b.slice", 42, "x-y.scope", True))
    assert p["Slice"] == ("s", "a-b.slice") and p["PIDs"] == ("au", [42])
    assert p["Delegate"] == ("b", True) and p["DefaultDependencies"] == ("b", False)
    assert p["IOAccounting"] == ("b", True)
    assert "BlockIOAccounting" in props(sd.scope_properties("s.slice", 1, "u.scope", False))


def test_state_round_trip_v2():
    m = sd.SystemdV2Manager("/sys/fs/cgroup", "a-b.slice", "p-c.scope", resources={"pids": {"limit": 3}})
    assert m.dir == "/sys/fs/cgroup/a.slice/a-b.slice/p-c.scope"
    m2 = Manager.from_dict(m.to_dict())
    assert isinstance(m2, sd.SystemdV2Manager)
    assert (m2.dir, m2.unit, m2.slice, m2.resources) == (m.dir, m.unit, m.slice, m.resources)


def test_state_round_trip_v1():
    m = sd.SystemdV1Manager({"memory": "/sys/fs/cgroup/memory/system.slice/p-c.scope"}, None, None,
                            "system.slice", "p-c.scope")
    m2 = Manager.from_dict(m.to_dict())
    assert isinstance(m2, sd.SystemdV1Manager) and m2.paths == m.paths and m2.unit == "p-c.scope"


def test_bad_unit_name_is_a_config_error():
    with pytest.raises(ConfigError, match="cgroupsPath"):
        sd.SystemdV2Manager("/sys/fs/cgroup", "system.slice", "p-a b.scope")


def test_no_systemd_is_a_clear_error_naming_the_socket(monkeypatch, tmp_path):
    from pyrunc.cgroups import sdbus

    monkeypatch.setattr(sdbus, "PRIVATE_SOCKET", str(tmp_path / "private"))
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'bus'}")
    with pytest.raises(CgroupError, match="systemd is not reachable") as e:
        sdbus.SystemdBus.connect()
    assert str(tmp_path / "bus") in str(e.value)
