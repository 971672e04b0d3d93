"""The init plan, built without root: order of operations, flags, paths."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from pyrunc.errors import ConfigError
from pyrunc.linux import ops as o
from pyrunc.linux.mounts import MOUNT_ATTR_NOEXEC, MOUNT_ATTR_RDONLY, MS_NODEV, MS_NOSUID, MS_PRIVATE, MS_RDONLY, parse_options
from pyrunc.linux.plan import PlanContext, build_plan, clean_destination
from pyrunc.spec.default import default_spec

REPO = Path(__file__).resolve().parents[2]


def ctx(config=None, **kw) -> PlanContext:
    c = config or default_spec()
    c["process"]["terminal"] = False
    return PlanContext(config=c, bundle="/b", container_id="c1", fifo_fds=(7, 8),
                       probe=lambda p: "dir", host_has_kcore=False, **kw)


def codes(plan) -> list[str]:
    return [o.NAMES[op[0]] for op in plan.ops]


def test_ops_header_matches_python():
    header = (REPO / "csrc" / "init" / "ops.h").read_text()
    found = dict((n, int(v)) for n, v in re.findall(r"\b(OP_[A-Z_]+) = (\d+)", header))
    for name, value in found.items():
        assert getattr(o, name) == value, name
    assert {n for n in o.NAMES.values()} == set(found)


def test_order_of_operations():
    c = default_spec()
    c["process"]["noNewPrivileges"] = True
    c["hooks"] = {"prestart": [{"path": "/bin/true"}]}
    seq = codes(build_plan(ctx(c)))
    # the launcher: cgroup then clone
    assert seq.index("OP_CLONE") < seq.index("OP_SETSID")
    order = ["OP_CLONE", "OP_SETSID", "OP_ROOT_PROPAGATION", "OP_ROOTFS", "OP_MOUNT", "OP_MKNOD", "OP_SYMLINK",
             "OP_HOOKS_SYNC", "OP_FIFO_OPEN", "OP_PIVOT", "OP_HOSTNAME", "OP_READONLY_PATH", "OP_MASK_PATH",
             "OP_ROOT_READONLY", "OP_KEEPCAPS", "OP_CAPBSET", "OP_SETGROUPS", "OP_SETGID", "OP_SETUID",
             "OP_CAPS", "OP_NO_NEW_PRIVS", "OP_UMASK", "OP_FIND_EXEC", "OP_READY", "OP_FIFO_WAIT",
             "OP_CLOSE_FDS", "OP_EXEC"]
    pos = [seq.index(x) for x in order]
    assert pos == sorted(pos), list(zip(order, pos))
    # process.cwd: tried as root before the identity switch, again after it (runc)
    cwds = [i for i, x in enumerate(seq) if x == "OP_CWD"]
    assert len(cwds) == 2 and cwds[0] < seq.index("OP_KEEPCAPS") and seq.index("OP_UMASK") < cwds[1] < seq.index("OP_FIND_EXEC")
    assert seq[-1] == "OP_EXEC"


def test_cgroup_join_comes_before_clone():
    plan = build_plan(ctx(cgroup_procs=["/sys/fs/cgroup/x/cgroup.procs"]))
    seq = codes(plan)
    assert seq.index("OP_CGROUP_JOIN") < seq.index("OP_CLONE")


def test_clone_flags_and_joined_namespaces_user_first():
    c = default_spec()
    c["linux"]["namespaces"] = [{"type": "mount"}, {"type": "network", "path": "/proc/1/ns/net"},
                               {"type": "user", "path": "/proc/1/ns/user"}, {"type": "pid"}]
    plan = build_plan(ctx(c))
    setns = [op for op in plan.ops if op[0] == o.OP_SETNS]
    assert [s[1] for s in setns] == ["/proc/1/ns/user", "/proc/1/ns/net"]
    clone = next(op for op in plan.ops if op[0] == o.OP_CLONE)
    assert clone[1] == 0x00020000 | 0x20000000  # NEWNS | NEWPID


def test_user_namespace_maps():
    c = default_spec()
    c["linux"]["namespaces"].append({"type": "user"})
    c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 10}, {"containerID": 10, "hostID": 5000, "size": 1}]
    c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 10}]
    clone = next(op for op in build_plan(ctx(c)).ops if op[0] == o.OP_CLONE)
    assert clone[2] == "0 1000 10\n10 5000 1\n" and clone[3] == "0 1000 10\n"
    # devices are bound from the host inside a user namespace
    assert all(op[8] == 1 for op in build_plan(ctx(c)).ops if op[0] == o.OP_MKNOD)


def test_time_namespace_is_unshared_with_offsets():
    c = default_spec()
    c["linux"]["namespaces"].append({"type": "time"})
    c["linux"]["timeOffsets"] = {"monotonic": {"secs": 5, "nanosecs": 7}}
    plan = build_plan(ctx(c))
    t = next(op for op in plan.ops if op[0] == o.OP_UNSHARE_TIME)
    assert t[1] == "monotonic 5 7\n"
    assert codes(plan).index("OP_UNSHARE_TIME") < codes(plan).index("OP_CLONE")


def test_mount_option_table():
    mo = parse_options(["nosuid", "nodev", "ro", "rprivate", "size=1m", "mode=755", "rro"])
    assert mo.flags == MS_NOSUID | MS_NODEV | MS_RDONLY
    assert mo.data == ["size=1m", "mode=755"]
    assert mo.propagation == [(MS_PRIVATE, True)]
    assert mo.rattr_set == MOUNT_ATTR_RDONLY
    b = parse_options(["rbind", "ro", "noexec"])
    assert b.bind and b.recursive_bind and b.attr_set == MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOEXEC
    assert parse_options(["rw"]).flags == 0 and parse_options(["ro", "rw"]).flags == 0


def test_bind_mount_and_fs_mount_records():
    c = default_spec()
    c["mounts"] = [{"destination": "/data", "type": "bind", "source": "rel/src", "options": ["rbind", "ro"]},
                   {"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1k"]}]
    mounts = [op for op in build_plan(ctx(c)).ops if op[0] == o.OP_MOUNT]
    assert mounts[0][1:3] == ("/b/rel/src", "/data") and mounts[0][6] == "rbind" and mounts[0][9] == "1"
    assert mounts[1][1:7] == ("tmpfs", "/t", "tmpfs", MS_NOSUID, "size=1k", "fs")


@pytest.mark.parametrize("dest,want", [("/a/b", "/a/b"), ("a/b", "/a/b"), ("//x//y/", "/x/y"), ("/a/../b", "/b")])
def test_clean_destination(dest, want):
    assert clean_destination(dest, "f") == want


@pytest.mark.parametrize("dest", ["/../etc", "../x", "/a/../../b"])
def test_destination_escaping_root_is_refused(dest):
    with pytest.raises(ConfigError, match="escapes"):
        clean_destination(dest, "mounts[0].destination")


def test_capabilities_and_user():
    c = default_spec()
    c["process"]["user"] = {"uid": 5, "gid": 6, "additionalGids": [7, 8], "umask": 0o077}
    plan = build_plan(ctx(c))
    rec = {o.NAMES[op[0]]: op[1:] for op in plan.ops}
    assert rec["OP_SETUID"] == (5,) and rec["OP_SETGID"] == (6,) and rec["OP_SETGROUPS"] == ("7,8",)
    assert rec["OP_UMASK"] == ("77",)
    # AUDIT_WRITE(29) KILL(5) NET_BIND_SERVICE(10)
    assert int(rec["OP_CAPBSET"][0], 16) == (1 << 29) | (1 << 5) | (1 << 10)


def test_no_capabilities_key_leaves_caps_alone():
    c = default_spec()
    del c["process"]["capabilities"]
    assert "OP_CAPS" not in codes(build_plan(ctx(c)))


def test_preserve_fds_and_env_home():
    plan = build_plan(ctx(preserve_fds=2))
    close = next(op for op in plan.ops if op[0] == o.OP_CLOSE_FDS)
    assert close[1] == 5
    exe = plan.ops[-1]
    # no HOME in process.env: the init reads it from the container's /etc/passwd (runc)
    assert b"HOME=" not in exe[2] and (o.OP_HOME, 0) in plan.ops


def test_wire_encoding_roundtrip_shape():
    data = o.encode([(o.OP_SETSID,), (o.OP_HOSTNAME, "h")])
    assert data.startswith(o.MAGIC)
    assert data.endswith(b"\0" * 8)


def test_no_hook_sync_without_hooks():
    assert "OP_HOOKS_SYNC" not in codes(build_plan(ctx()))
    for kind in ("prestart", "createRuntime", "createContainer", "startContainer"):
        c = default_spec()
        c["hooks"] = {kind: [{"path": "/bin/true"}]}
        assert "OP_HOOKS_SYNC" in codes(build_plan(ctx(c))), kind


# --- mounts: runc's propagation, tmpcopyup, read-only tmpfs and /dev, no mount namespace

from pyrunc.linux.mounts import MS_REC, MS_SHARED, MS_SLAVE, MS_UNBINDABLE  # noqa: E402
from pyrunc.linux.plan import MX_COPYUP, MX_DIR_MODE, MX_PREOPENED, MX_RO_LATER  # noqa: E402


def _props(plan) -> list[int]:
    return [int(op[1]) for op in plan.ops if op[0] == o.OP_ROOT_PROPAGATION]


@pytest.mark.parametrize("value,before,after", [
    (None, MS_SLAVE | MS_REC, None),
    ("rshared", MS_SHARED | MS_REC, MS_SHARED),
    ("shared", MS_SHARED, MS_SHARED),
    ("rslave", MS_SLAVE | MS_REC, MS_SLAVE),
    # runbindable before the binds would leave nothing to bind (runc fails so)
    ("runbindable", MS_UNBINDABLE, MS_UNBINDABLE | MS_REC),
])
def test_rootfs_propagation_before_binds_and_on_the_new_root(value, before, after):
    """As runc: the (recursive) flag on the namespace's "/" before the rootfs
    is bound; after pivot_root only on "/" itself (never recursive but for
    runbindable), so the mounts' own propagation options hold."""
    c = default_spec()
    if value:
        c["linux"]["rootfsPropagation"] = value
    plan = build_plan(ctx(c))
    seq = codes(plan)
    props = _props(plan)
    assert props[0] == before and seq.index("OP_ROOT_PROPAGATION") < seq.index("OP_ROOTFS")
    assert props[1:] == ([] if after is None else [after])


def _mount_ops(c):
    return {op[2]: op for op in build_plan(ctx(c)).ops if op[0] == o.OP_MOUNT}


def test_mount_extension_bits():
    c = default_spec()
    for m in c["mounts"]:
        if m["destination"] == "/dev":
            m["options"].append("ro")
    c["mounts"] += [
        {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "tmpcopyup"]},
        {"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["mode=700"]},
        {"destination": "/p", "type": "proc", "source": "proc", "options": ["ro"]},
        {"destination": "/b", "type": "bind", "source": "/src", "options": ["rbind", "ro"]},
    ]
    ops = _mount_ops(c)
    assert ops["/dev"][13] == MX_RO_LATER  # /dev has mode=755
    assert ops["/run"][13] == MX_COPYUP | MX_DIR_MODE | MX_RO_LATER
    assert ops["/t"][13] == 0
    assert ops["/p"][13] == 0 and ops["/p"][4] & MS_RDONLY  # read-only at once, not a tmpfs
    assert ops["/b"][13] == 0  # no user namespace: the init opens the source itself
    seq = codes(build_plan(ctx(c)))
    assert seq.count("OP_MOUNTS_RO") == 1
    assert seq.index("OP_PIVOT") < seq.index("OP_MOUNTS_RO") < seq.index("OP_READONLY_PATH")
    assert "OP_MOUNTS_RO" not in codes(build_plan(ctx(default_spec())))


@pytest.mark.parametrize("mount,what", [
    ({"destination": "/b", "type": "bind", "source": "/src", "options": ["rbind", "tmpcopyup"]}, "a bind mount"),
    ({"destination": "/b", "source": "/src", "options": ["bind", "tmpcopyup"]}, "a bind mount"),
    ({"destination": "/m", "type": "mqueue", "source": "mqueue", "options": ["tmpcopyup"]}, "'mqueue'"),
])
def test_tmpcopyup_on_a_non_tmpfs_mount_is_refused(mount, what):
    c = default_spec()
    c["mounts"].append(mount)
    with pytest.raises(ConfigError) as e:
        build_plan(ctx(c))
    assert str(e.value) == f"mounts[{len(c['mounts']) - 1}].options: tmpcopyup applies to tmpfs mounts only, not to {what}"


def _userns(c):
    c["linux"]["namespaces"].append({"type": "user"})
    c["linux"]["uidMappings"] = c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    c["mounts"].append({"destination": "/b", "type": "bind", "source": "/src", "options": ["rbind"]})
    return c


def test_bind_sources_are_opened_by_the_launcher_with_a_user_namespace():
    assert _mount_ops(_userns(default_spec()))["/b"][13] == MX_PREOPENED
    # rootless: no host privileges to use; runc does not either
    rootless = {op[2]: op for op in build_plan(ctx(_userns(default_spec()), rootless=True)).ops if op[0] == o.OP_MOUNT}
    assert rootless["/b"][13] == 0


def test_no_mount_namespace_chroots_and_keeps_the_callers_propagation():
    c = default_spec()
    c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "mount"]
    c["linux"]["rootfsPropagation"] = "rshared"
    plan = build_plan(ctx(c))
    assert "OP_ROOT_PROPAGATION" not in codes(plan)  # the caller's "/" is left alone (runc makes it private)
    rootfs = next(op for op in plan.ops if op[0] == o.OP_ROOTFS)
    pivot = next(op for op in plan.ops if op[0] == o.OP_PIVOT)
    assert rootfs[2] == 1 and pivot[1] == 2
    own = build_plan(ctx(default_spec()))
    assert next(op for op in own.ops if op[0] == o.OP_ROOTFS)[2] == 0
    assert next(op for op in own.ops if op[0] == o.OP_PIVOT)[1] == 0
