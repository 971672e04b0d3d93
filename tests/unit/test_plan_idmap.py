"""The plan of an idmapped bind (runtime-spec 1.2 mount uidMappings/gidMappings,
idmap/ridmap): which mapping the launcher is given, and the configs refused
before anything runs.  The mounts themselves: tests/integration/test_idmapped_mounts.py."""
from __future__ import annotations

import pytest

from pyrunc.errors import ConfigError, UnsupportedError
from pyrunc.linux import ops as o
from pyrunc.linux.plan import MX_IDMAP, MX_IDMAP_PATH, MX_PREOPENED, MX_RIDMAP, PlanContext, build_plan
from pyrunc.linux.plan_view import describe
from pyrunc.spec.default import default_spec

MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]
OWN = [{"containerID": 1000, "hostID": 100000, "size": 1}, {"containerID": 0, "hostID": 200000, "size": 10}]


def config(mount: dict, user: dict | None = {"type": "user"}) -> dict:
    c = default_spec()
    c["process"]["terminal"] = False
    if user is not None:
        c["linux"]["namespaces"].append(user)
        if not user.get("path"):
            c["linux"]["uidMappings"] = c["linux"]["gidMappings"] = MAP
    c["mounts"].append({"destination": "/vol", "type": "bind", "source": "/srv", **mount})
    return c


def vol_op(c: dict, **kw) -> tuple:
    plan = build_plan(PlanContext(config=c, bundle="/b", container_id="c1", fifo_fds=(7, 8),
                                  probe=lambda p: "dir", host_has_kcore=False, **kw))
    return next(op for op in plan.ops if op[0] == o.OP_MOUNT and op[2] == "/vol")


def test_mount_mappings_go_to_the_launcher():
    op = vol_op(config({"options": ["rbind", "idmap"], "uidMappings": OWN, "gidMappings": MAP}))
    assert op[13] == MX_PREOPENED | MX_IDMAP
    assert op[14:] == ("1000 100000 1\n0 200000 10\n", "0 100000 65536\n")


def test_ridmap_is_recursive():
    op = vol_op(config({"options": ["rbind", "ridmap"], "uidMappings": MAP, "gidMappings": MAP}))
    assert op[13] == MX_PREOPENED | MX_IDMAP | MX_RIDMAP


def test_mappings_without_an_option_idmap_the_top_mount():
    op = vol_op(config({"options": ["rbind"], "uidMappings": MAP, "gidMappings": MAP}))
    assert op[13] & (MX_IDMAP | MX_RIDMAP) == MX_IDMAP


def test_idmap_without_mappings_takes_the_new_user_namespaces():
    op = vol_op(config({"options": ["bind", "idmap"]}))
    assert op[13] == MX_PREOPENED | MX_IDMAP
    assert op[14:] == ("0 100000 65536\n", "0 100000 65536\n")


def test_idmap_without_mappings_in_a_joined_user_namespace_takes_its_path():
    op = vol_op(config({"options": ["bind", "idmap"]}, user={"type": "user", "path": "/proc/42/ns/user"}))
    assert op[13] == MX_PREOPENED | MX_IDMAP | MX_IDMAP_PATH
    assert op[14:] == ("/proc/42/ns/user", "")


def test_no_user_namespace_is_needed_with_mappings_of_its_own():
    op = vol_op(config({"options": ["rbind"], "uidMappings": MAP, "gidMappings": MAP}, user=None))
    assert op[13] & MX_IDMAP and op[13] & MX_PREOPENED


def test_plain_bind_is_unchanged():
    op = vol_op(config({"options": ["rbind"]}, user=None))
    assert len(op) == 14 and op[13] == 0


@pytest.mark.parametrize("mount,user,err,text", [
    ({"options": ["idmap"]}, None, ConfigError, "mounts[7].options: idmap without uidMappings/gidMappings"),
    ({"type": "tmpfs", "options": ["ridmap"]}, {"type": "user"}, ConfigError, "bind mounts only"),
    ({"options": ["bind"], "gidMappings": MAP}, {"type": "user"}, ConfigError, "mounts[7].uidMappings: "),
    ({"options": ["bind"], "uidMappings": [{"containerID": 0, "hostID": 4294967295, "size": 2}],
      "gidMappings": MAP}, {"type": "user"}, ConfigError, "mounts[7].uidMappings[0]: "),
])
def test_refused(mount, user, err, text):
    with pytest.raises(err) as e:
        vol_op(config(mount, user))
    assert text in str(e.value)


def test_refused_rootless_and_in_a_joined_mount_namespace():
    c = config({"options": ["rbind", "idmap"]})
    with pytest.raises(UnsupportedError, match=r"mounts\[7\]: an idmapped mount in a rootless container"):
        vol_op(c, rootless=True)
    c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "mount"]
    c["linux"]["namespaces"].append({"type": "mount", "path": "/proc/42/ns/mnt"})
    with pytest.raises(UnsupportedError, match=r"mounts\[7\]: an idmapped mount in a joined mount namespace"):
        vol_op(c)


def test_plan_view_says_so():
    c = config({"options": ["rbind", "ridmap"], "uidMappings": OWN, "gidMappings": MAP})
    plan = build_plan(PlanContext(config=c, bundle="/b", container_id="c1", fifo_fds=(7, 8),
                                  probe=lambda p: "dir", host_has_kcore=False))
    rec = next(r for r in describe(c, plan) if r["op"] == "mount" and r["args"]["destination"] == "/vol")
    assert rec["source"] == "mounts[7]"
    assert "ridmap: every mount of the tree by uid map 1000:100000:1,0:200000:10 gid map 0:100000:65536" in rec["text"]
