"""pyrunc.checkpoint: the CRIU RPC codec against the rpc.proto CRIU ships,
and how runc's checkpoint/restore flags map onto criu_opts.  (Checkpoint and
restore themselves run in the VM tier: tests/test_vm_criu.py.)"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from pyrunc import checkpoint as cp
from pyrunc.checkpoint import rpc
from pyrunc.errors import PyruncError

RPC_PROTO = "/usr/include/criu/rpc.proto"


def _proto_fields() -> dict[str, dict[str, tuple[int, str, str]]]:
    """message -> field -> (number, label, type) from CRIU's rpc.proto."""
    text = re.sub(r"/\*.*?\*/", "", open(RPC_PROTO).read(), flags=re.S)
    out: dict[str, dict[str, tuple[int, str, str]]] = {}
    for m in re.finditer(r"message\s+(\w+)\s*\{(.*?)\}", text, re.S):
        fields = {}
        for f in re.finditer(r"(required|optional|repeated)\s+(\w+)\s+(\w+)\s*=\s*(\d+)", m.group(2)):
            fields[f.group(3)] = (int(f.group(4)), f.group(1), f.group(2))
        out[m.group(1)] = fields
    return out


@pytest.mark.skipif(not os.path.exists(RPC_PROTO), reason=f"{RPC_PROTO} not installed (Debian package criu)")
def test_schema_matches_criu_rpc_proto() -> None:
    proto = _proto_fields()
    enums = {"criu_cg_mode", "criu_req_type", "criu_pre_dump_mode", "criu_network_lock_method"}
    for msg, fields in rpc.SCHEMA.items():
        assert msg in proto, msg
        for name, (num, kind) in fields.items():
            assert name in proto[msg], f"{msg}.{name}"
            pnum, label, ptype = proto[msg][name]
            assert num == pnum, f"{msg}.{name}: {num} != {pnum}"
            want = "enum" if ptype in enums else ptype
            assert kind == want, f"{msg}.{name}: {kind} != {ptype}"
            assert ((msg, name) in rpc.REPEATED) == (label == "repeated"), f"{msg}.{name}"


def test_roundtrip_and_negative_int32() -> None:
    req = {"type": rpc.RESTORE, "opts": {
        "images_dir_fd": 5, "status_fd": -1, "root": "/r", "rst_sibling": True, "manage_cgroups_mode": 6,
        "ext_mnt": [{"key": "/data", "val": "/src"}, {"key": "/dev/null", "val": "/dev/null"}],
        "inherit_fd": [{"key": "pipe:[12]", "fd": 1}], "cg_root": [{"path": "/c"}],
        "external": ["net[4026531992]:extRootNetNS"], "empty_ns": 0x40000000}}
    data = rpc.encode("criu_req", req)
    back = rpc.decode("criu_req", data)
    assert back == req
    assert rpc.encode("criu_req", {"type": 1, "opts": None}) == b"\x08\x01"  # None fields are left out


def test_decode_response_skips_unknown_fields() -> None:
    resp = (rpc.encode("criu_resp", {"type": rpc.NOTIFY, "success": True,
                                     "notify": {"script": "post-restore", "pid": 42}})
            + b"\xa0\x06\x01")  # field 100, varint: not in the schema
    assert rpc.decode("criu_resp", resp) == {"type": rpc.NOTIFY, "success": True,
                                             "notify": {"script": "post-restore", "pid": 42}}


def _debian_python_has_pycriu() -> bool:
    return subprocess.run(["/usr/bin/python3", "-c", "import pycriu.rpc_pb2"], capture_output=True,
                          env={"PYTHONPATH": "/usr/lib/python3/dist-packages"}).returncode == 0 \
        if os.path.exists("/usr/bin/python3") else False


@pytest.mark.skipif(not _debian_python_has_pycriu(), reason="Debian's pycriu (package criu) not importable")
def test_encoding_parses_with_pycriu() -> None:
    """Debian's generated rpc_pb2 reads what the codec writes, field by field."""
    req = {"type": rpc.DUMP, "opts": {"images_dir_fd": 3, "pid": 77, "leave_running": True, "log_level": 4,
                                      "ext_mnt": [{"key": "/a", "val": "/a"}], "freeze_cgroup": "/sys/fs/cgroup/x",
                                      "manage_cgroups_mode": rpc.CG_MODES["strict"], "status_fd": -1}}
    code = ("import sys; from pycriu import rpc_pb2; from google.protobuf import json_format as j; "
            "r = rpc_pb2.criu_req(); r.ParseFromString(sys.stdin.buffer.read()); "
            "print(j.MessageToJson(r, preserving_proto_field_name=True, use_integers_for_enums=True))")
    out = subprocess.run(["/usr/bin/python3", "-c", code], input=rpc.encode("criu_req", req), capture_output=True,
                         check=True, env={"PYTHONPATH": "/usr/lib/python3/dist-packages"}).stdout
    assert json.loads(out) == req


def test_flag_mapping() -> None:
    assert cp.cg_mode("") == 6 and cp.cg_mode("soft") == 3 and cp.cg_mode("full") == 4
    assert cp.cg_mode("strict") == 5 and cp.cg_mode("ignore") == 0
    with pytest.raises(PyruncError, match="--manage-cgroups-mode"):
        cp.cg_mode("hard")
    assert cp.empty_ns_mask(("network",)) == 0x40000000
    with pytest.raises(PyruncError, match="--empty-ns"):
        cp.empty_ns_mask(("pid",))
    assert cp.page_server("10.0.0.1:27") == {"address": "10.0.0.1", "port": 27}
    with pytest.raises(PyruncError, match="--page-server"):
        cp.page_server("10.0.0.1")
    o = cp.CheckpointOptions(image_path="/i", shell_job=True, tcp_established=True, ext_unix_sk=True,
                             file_locks=True, auto_dedup=True, lazy_pages=True, manage_cgroups_mode="full",
                             empty_ns=("network",))
    opts = cp.common_opts(o)
    for k in ("shell_job", "tcp_established", "ext_unix_sk", "file_locks", "auto_dedup", "lazy_pages",
              "orphan_pts_master", "notify_scripts", "manage_cgroups"):
        assert opts[k] is True, k
    assert opts["manage_cgroups_mode"] == 4 and opts["empty_ns"] == 0x40000000
    assert cp.CheckpointOptions().image_path == os.path.join(os.getcwd(), "checkpoint")  # runc's default


def test_external_mounts_dump_and_restore_keys() -> None:
    config = {"mounts": [{"destination": "/data", "type": "bind", "source": "/srv/d", "options": ["rbind"]},
                         {"destination": "//x/", "type": "none", "source": "/srv/x", "options": ["bind", "ro"]},
                         {"destination": "/proc", "type": "proc", "source": "proc"}],
              "linux": {"maskedPaths": ["/proc/kcore"], "devices": [{"path": "/dev/fuse", "type": "c"}]}}
    dump = cp.dump_ext_mounts(config, os.getpid())
    assert {"key": "/data", "val": "/data"} in dump and {"key": "/x", "val": "/x"} in dump
    assert {"key": "/dev/fuse", "val": "/dev/fuse"} in dump
    assert all(m["key"] != "/proc" for m in dump)
    rst = cp.restore_ext_mounts(config)
    assert {"key": "/data", "val": "/srv/d"} in rst and {"key": "/x", "val": "/srv/x"} in rst
    assert {"key": "/dev/null", "val": "/dev/null"} in rst  # masked files are /dev/null binds


def test_criu_config_annotation() -> None:
    assert cp.config_file_opt({}) == "/etc/criu/runc.conf"
    assert cp.config_file_opt({"annotations": {"org.criu.config": "/c.conf"}}) == "/c.conf"
    assert cp.config_file_opt({"annotations": {"org.criu.config": ""}}) is None


def test_log_errors(tmp_path) -> None:
    log = tmp_path / "dump.log"
    log.write_text("(00.000001) info\n(00.025624) Error (criu/vdso.c:381): vdso: bad bounds\n"
                   "(00.1) Error (criu/cr-dump.c:2053): Dumping FAILED.\n")
    assert cp.log_errors(str(log)) == ["vdso: bad bounds", "Dumping FAILED."]
    assert cp.log_errors(str(tmp_path / "missing")) == []


def test_check_without_criu_names_it() -> None:
    assert cp.check("/nonexistent/criu") == "criu check: /nonexistent/criu not found (install criu)"


def test_restore_refuses_bad_image_dir_before_making_anything(tmp_path) -> None:
    from pyrunc.store import Store

    store = Store(str(tmp_path / "root"))
    (tmp_path / "empty").mkdir()
    for path, msg in ((tmp_path / "nope", "does not exist"), (tmp_path / "empty", "no inventory.img")):
        with pytest.raises(cp.CheckpointError, match=msg):
            cp.restore(store, "c1", cp.CheckpointOptions(image_path=str(path)), cp.RestoreOptions())
    assert not (tmp_path / "root").exists()


def test_cli_lists_checkpoint_and_restore() -> None:
    out = subprocess.run([sys.executable, "-m", "pyrunc", "restore", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--image-path" in out.stdout and "--console-socket" in out.stdout
    out = subprocess.run([sys.executable, "-m", "pyrunc", "checkpoint", "--help"], capture_output=True, text=True)
    for flag in ("--leave-running", "--pre-dump", "--parent-path", "--manage-cgroups-mode", "--empty-ns"):
        assert flag in out.stdout, flag
