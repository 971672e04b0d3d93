"""linux.devices[].fileMode past the schema's 0-511, as podman --privileged
sends it (the host nodes' whole st_mode, 0o20666 for a char device): runc
takes any uint32 and drops the file type bits; pyrunc refused the config
("input should be less than or equal to 511") and now does what runc does.
A /dev/ptmx in the list (podman lists the host's) ends up as runc's
pts/ptmx link, not a node of the host's devpts.  Same bundle under both."""
from __future__ import annotations

import os
import stat

import pytest

from tests.conftest import new_id

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")

DEVICES = [
    {"path": "/dev/xfull", "type": "c", "major": 1, "minor": 7, "fileMode": stat.S_IFCHR | 0o666, "uid": 0, "gid": 0},
    {"path": "/dev/xloop", "type": "b", "major": 7, "minor": 0, "fileMode": stat.S_IFBLK | 0o640, "uid": 0,
     "gid": 6},
    # a file type that disagrees with `type`: `type` wins (runc ignores those bits)
    {"path": "/dev/xzero", "type": "c", "major": 1, "minor": 5, "fileMode": stat.S_IFBLK | 0o604},
    # set-id bits are permission bits: kept
    {"path": "/dev/xnull", "type": "c", "major": 1, "minor": 3, "fileMode": stat.S_IFCHR | 0o2660},
    {"path": "/dev/ptmx", "type": "c", "major": 5, "minor": 2, "fileMode": stat.S_IFCHR | 0o666},
]
SCRIPT = ("stat -c '%n %a %u:%g %F %t:%T' /dev/xfull /dev/xloop /dev/xzero /dev/xnull;"
          "stat -c '%n %F' /dev/ptmx; readlink /dev/ptmx")
EXPECTED = [
    "/dev/xfull 666 0:0 character special file 1:7",
    "/dev/xloop 640 0:6 block special file 7:0",
    "/dev/xzero 604 0:0 character special file 1:5",
    "/dev/xnull 2660 0:0 character special file 1:3",
    "/dev/ptmx symbolic link",
    "pts/ptmx",
]


def test_file_mode_with_type_bits_like_runc(pyrunc, runc, make_bundle):
    def edit(c):
        c["linux"]["devices"] = DEVICES

    b = make_bundle(["sh", "-c", SCRIPT], edit=edit)
    seen = {}
    for name, rt in (("runc", runc), ("pyrunc", pyrunc)):
        p = rt("run", "-b", str(b.path), new_id(name))
        seen[name] = (p.returncode, p.stdout.splitlines(), p.stderr)
    assert seen["pyrunc"] == seen["runc"], seen
    assert seen["pyrunc"] == (0, EXPECTED, ""), seen


def test_validate_warns_past_the_schema(pyrunc, make_bundle):
    """`validate` says the value is outside the schema (a warning, exit 0);
    create takes it silently, as runc."""
    def edit(c):
        c["linux"]["devices"] = DEVICES[:1]

    b = make_bundle(["true"], edit=edit)
    v = pyrunc("validate", "-b", str(b.path))
    assert v.returncode == 0, (v.stdout, v.stderr)
    out = v.stdout + v.stderr
    assert "linux.devices[0].fileMode: 8630 (0o20666) is outside the runtime-spec schema" in out, out
    p = pyrunc("run", "-b", str(b.path), new_id())
    assert (p.returncode, p.stderr) == (0, "")


def test_file_mode_past_uint32_is_refused(pyrunc, make_bundle):
    def edit(c):
        c["linux"]["devices"] = [dict(DEVICES[0], fileMode=2**32)]

    b = make_bundle(["true"], edit=edit)
    cid = new_id()
    p = pyrunc("run", "-b", str(b.path), cid)
    assert p.returncode != 0
    assert p.stderr.strip().splitlines() == [p.stderr.strip()]
    assert "linux.devices[0].fileMode" in p.stderr, p.stderr
    assert cid not in pyrunc.ids()
