"""The two command-line front ends — the click-free fast path and click
(PYRUNC_NO_FASTCLI=1) — on real containers: the same output, the same
errors, the same exit codes, the same effect."""
from __future__ import annotations

import json
import os

from tests.conftest import new_id

CLICK = {**os.environ, "PYRUNC_NO_FASTCLI": "1"}


def both(pyrunc, *args):
    fast = pyrunc(*args)
    slow = pyrunc(*args, env=CLICK)
    return fast, slow


def test_state_and_list_print_the_same(pyrunc, make_bundle):
    b = make_bundle(["sleep", "30"])
    cid = new_id()
    pyrunc("create", "--bundle", str(b.path), cid, check=True)
    try:
        for args in (("state", cid), ("list",), ("list", "-q"), ("list", "--format", "json")):
            fast, slow = both(pyrunc, *args)
            assert fast.returncode == slow.returncode == 0, (args, fast.stderr, slow.stderr)
            assert fast.stdout == slow.stdout, args
        st = json.loads(pyrunc("state", cid, check=True).stdout)
        assert st["id"] == cid and st["status"] == "created"
        assert pyrunc("list", "-q", check=True).stdout == f"{cid}\n"
        pyrunc("start", cid, check=True)
        assert pyrunc.state(cid)["status"] == "running"
        pyrunc("kill", cid, "KILL", check=True)
    finally:
        pyrunc("delete", "--force", cid)
    assert pyrunc("list", "-q").stdout == ""


def test_errors_are_the_same_line_and_code(pyrunc):
    for args in (("state", "nope"), ("start", "nope"), ("kill", "nope"), ("delete", "nope"),
                 ("state", "../x"), ("pause", "nope"), ("kill", "nope", "NOSUCHSIG")):
        fast, slow = both(pyrunc, *args)
        assert fast.returncode == slow.returncode != 0, args
        assert fast.stderr == slow.stderr, args
        assert fast.stderr.count("\n") == 1 and fast.stderr.startswith("pyrunc: "), fast.stderr
    # delete --force of a missing container succeeds either way
    fast, slow = both(pyrunc, "delete", "--force", "nope")
    assert fast.returncode == slow.returncode == 0


def test_the_log_file_gets_the_error_either_way(pyrunc, tmp_path):
    for env, name in ((None, "fast.json"), (CLICK, "click.json")):
        log = tmp_path / name
        kw = {"env": env} if env else {}
        p = pyrunc("--log", str(log), "--log-format", "json", "state", "nope", **kw)
        assert p.returncode != 0
        line = json.loads(log.read_text().splitlines()[-1])
        assert line["level"] == "error" and "nope" in line["msg"]


def test_usage_errors_still_come_from_click(pyrunc):
    p = pyrunc("state")
    assert p.returncode == 2 and "Missing argument" in p.stderr
    p = pyrunc("delete", "--bogus", "x")
    assert p.returncode == 2 and "No such option" in p.stderr


def test_create_imports_nothing_heavy(pyrunc, make_bundle, tmp_path):
    """create, the costliest call per container: only pydantic-core's
    extension (which itself imports datetime) of the heavy modules."""
    from tests.unit.test_hot_path_imports import HOT, imported_by

    b = make_bundle(["true"])
    cid = new_id()
    try:
        mods = imported_by(["--root", str(pyrunc.root), "create", "--bundle", str(b.path), cid], tmp_path)
        assert pyrunc.state(cid)["status"] == "created"
    finally:
        pyrunc("delete", "--force", cid)
    assert mods & set(HOT) <= {"pydantic_core", "datetime"}
