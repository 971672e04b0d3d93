"""Container ids that try to climb out of the state root or break the
output: every command refuses them with one line, and nothing is created
outside (or inside) the state root."""
from __future__ import annotations

import os

import pytest

HOSTILE_IDS = ["..", ".", "../escape", "a/b", "/abs", "x/../../escape", "a\nb", "a\x01b", "x" * 1024,
               "é", " lead", "trail ", "a*b", "$(id)", ""]


@pytest.mark.parametrize("cid", HOSTILE_IDS, ids=[repr(i)[1:-1][:20] or "empty" for i in HOSTILE_IDS])
def test_hostile_ids_are_refused(pyrunc, make_bundle, tmp_path, cid):
    b = make_bundle(["true"])
    outside = sorted(os.listdir(tmp_path))
    for args in (["create", "-b", str(b.path), "--", cid], ["run", "-b", str(b.path), "--", cid],
                 ["state", "--", cid], ["start", "--", cid], ["kill", "--", cid, "KILL"],
                 ["delete", "--force", "--", cid], ["exec", "--", cid, "true"]):
        p = pyrunc(*args)
        assert p.returncode != 0, (args, p.stdout)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in p.stderr and "internal error" not in p.stderr, (args, p.stderr)
    assert pyrunc.ids() == []
    assert sorted(os.listdir(tmp_path)) == outside
    assert not os.path.exists(tmp_path / "escape")
