"""pyrunc.lsm and pyrunc.rootless: label formatting, refusals where the LSM
is not enabled, /etc/subuid parsing and when newuidmap is needed."""
from __future__ import annotations

import os

import pytest

from pyrunc import lsm, rootless
from pyrunc.errors import ConfigError


def test_mount_label_goes_to_filesystem_mounts_only():
    label = "system_u:object_r:container_file_t:s0:c1,c2"
    assert lsm.with_mount_label("mode=755", "tmpfs", label) == f'mode=755,context="{label}"'
    assert lsm.with_mount_label("", "devpts", label) == f'context="{label}"'
    for fstype in ("proc", "sysfs", "mqueue", "cgroup", "cgroup2", "bind"):
        assert lsm.with_mount_label("ro", fstype, label) == "ro"
    assert lsm.with_mount_label("mode=755", "tmpfs", None) == "mode=755"


def test_no_labels_no_writes():
    assert lsm.exec_labels({}) == []
    assert lsm.exec_labels({"apparmorProfile": "", "selinuxLabel": ""}) == []
    assert lsm.mount_label({}) is None


@pytest.mark.skipif(lsm.apparmor_enabled(), reason="AppArmor is enabled here")
def test_apparmor_profile_refused_where_apparmor_is_off():
    with pytest.raises(ConfigError) as e:
        lsm.exec_labels({"apparmorProfile": "docker-default"})
    assert str(e.value).startswith("process.apparmorProfile: ") and "not enabled" in str(e.value)


@pytest.mark.skipif(lsm.selinux_enabled(), reason="SELinux is enabled here")
def test_selinux_labels_refused_where_selinux_is_off():
    with pytest.raises(ConfigError, match=r"^process.selinuxLabel: selinux label is specified"):
        lsm.exec_labels({"selinuxLabel": "system_u:system_r:container_t:s0"})
    # a mount label is dropped (with a warning) instead: runc 1.2's behaviour
    assert lsm.mount_label({"mountLabel": "system_u:object_r:container_file_t:s0"}) is None


def test_labels_must_be_one_line_strings():
    with pytest.raises(ConfigError, match="process.apparmorProfile: must be a string"):
        lsm.exec_labels({"apparmorProfile": 3})
    with pytest.raises(ConfigError, match="process.selinuxLabel: must be one line"):
        lsm.exec_labels({"selinuxLabel": "a\nb"})


def test_apparmor_write_is_exec_of_the_profile(monkeypatch):
    """Where AppArmor runs, the init writes "exec <profile>" to the
    AppArmor-specific attr file first (pretending it runs: this is only the
    value the plan carries; the write itself needs the LSM)."""
    monkeypatch.setattr(lsm, "apparmor_enabled", lambda: True)
    (w,) = lsm.exec_labels({"apparmorProfile": "docker-default"})
    assert w.value == "exec docker-default"
    assert w.attrs == ("thread-self/attr/apparmor/exec", "thread-self/attr/exec")


# ---------------------------------------------------------------- rootless


def test_sub_ranges_by_name_or_number(tmp_path):
    f = tmp_path / "subuid"
    f.write_text("# comment\nalice:100000:65536\n1001:300000:10\nbob:200000:65536\nbroken line\nalice:x:1\n")
    assert rootless.sub_ranges(str(f), 1001, "alice") == [rootless.Range(100000, 65536), rootless.Range(300000, 10)]
    assert rootless.sub_ranges(str(f), 1002, "carol") == []
    assert rootless.sub_ranges(str(tmp_path / "missing"), 1, "x") == []
    r = rootless.Range(100000, 65536)
    assert r.covers(100000, 65536) and r.covers(100500, 10) and not r.covers(99999, 2) and not r.covers(165535, 2)


def test_needs_mapping_tool_only_beyond_the_own_ids():
    own = {"uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
           "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}
    assert not rootless.needs_mapping_tool(own, 1000, 1000)
    assert rootless.needs_mapping_tool(own, 1001, 1000)
    assert not rootless.needs_mapping_tool(own, 0, 0)  # root maps by itself
    more = dict(own, uidMappings=own["uidMappings"] + [{"containerID": 1, "hostID": 100000, "size": 65536}])
    assert rootless.needs_mapping_tool(more, 1000, 1000)


def test_rootless_config_needs_a_user_namespace():
    with pytest.raises(ConfigError, match="^linux.namespaces: rootless container requires user namespaces"):
        rootless.check_mappings({"namespaces": [{"type": "pid"}]}, 1000, 1000)
    assert rootless.check_mappings({"namespaces": [{"type": "pid"}]}, 0, 0) is False  # root in a userns


def test_undelegated_ranges_are_refused_naming_the_mapping():
    linux = {"namespaces": [{"type": "user"}],
             "uidMappings": [{"containerID": 0, "hostID": 54321, "size": 1},
                             {"containerID": 1, "hostID": 7, "size": 3}],
             "gidMappings": [{"containerID": 0, "hostID": 54321, "size": 1}]}
    if not all(__import__("shutil").which(t) for t in ("newuidmap", "newgidmap")):
        with pytest.raises(ConfigError, match=r"^linux.uidMappings: .*needs newuidmap"):
            rootless.check_mappings(linux, 54321, 54321)
        return
    with pytest.raises(ConfigError, match=r"^linux.uidMappings\[1\]: host ids 7-9 are not delegated to 54321 in /etc/subuid"):
        rootless.check_mappings(linux, 54321, 54321)


def test_joined_user_namespace_needs_no_mapping_check():
    assert rootless.check_mappings({"namespaces": [{"type": "user", "path": "/proc/1/ns/user"}]}) is False


def test_own_ids_need_no_helper():
    linux = {"namespaces": [{"type": "user"}],
             "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
             "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}
    assert rootless.check_mappings(linux, 1000, 1000) is False


def test_detect_root_in_the_initial_namespace():
    if os.geteuid() == 0 and rootless.in_initial_user_ns():
        assert rootless.detect() is False
    else:
        assert rootless.detect() is True


# ---------------------------------------------------------------- in the plan


def _plan(config, **kw):
    from pyrunc.linux.plan import PlanContext, build_plan

    config["process"]["terminal"] = False
    return build_plan(PlanContext(config=config, bundle="/b", container_id="c1", probe=lambda p: "dir",
                                  host_has_kcore=False, **kw))


def test_plan_writes_the_label_before_the_identity_and_seccomp(monkeypatch):
    from pyrunc.linux import ops as o
    from pyrunc.spec.default import default_spec

    monkeypatch.setattr(lsm, "apparmor_enabled", lambda: True)
    monkeypatch.setattr(lsm, "selinux_enabled", lambda: True)
    c = default_spec()
    c["process"]["apparmorProfile"] = "docker-default"
    c["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0"
    c["linux"]["mountLabel"] = "system_u:object_r:container_file_t:s0"
    plan = _plan(c)
    seq = [o.NAMES[op[0]] for op in plan.ops]
    labels = [op for op in plan.ops if op[0] == o.OP_LSM_EXEC]
    assert [op[2] for op in labels] == ["exec docker-default", "system_u:system_r:container_t:s0"]
    first = seq.index("OP_LSM_EXEC")
    assert seq.index("OP_PIVOT") < first < seq.index("OP_SETUID") < seq.index("OP_EXEC")
    mounts = {op[2]: op for op in plan.ops if op[0] == o.OP_MOUNT}
    assert 'context="system_u:object_r:container_file_t:s0"' in mounts["/dev"][5]  # tmpfs
    assert "context=" not in mounts["/proc"][5] and "context=" not in mounts["/dev/mqueue"][5]


def test_plan_rootless_clone_arguments():
    """Own ids only: no helper, setgroups denied first.  (Several ranges use
    the helpers: covered for real by tests/integration/test_rootless.py.)"""
    from pyrunc.linux import ops as o
    from pyrunc.spec.default import default_spec

    c = default_spec(rootless=True)
    clone = next(op for op in _plan(c, rootless=True).ops if op[0] == o.OP_CLONE)
    assert clone[4:] == ("deny", 0)
