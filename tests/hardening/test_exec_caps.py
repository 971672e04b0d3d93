"""CVE-2022-29162: a process started by `exec` must get an empty inheritable
set (and so no ambient capabilities) unless the process spec asks for
inheritable capabilities; `exec --cap` adds to the bounding, effective and
permitted sets only."""
from __future__ import annotations

import json

import pytest

from tests.conftest import new_id

CAP_KILL = 5
CAP_SYS_ADMIN = 21
CAP_NET_RAW = 13


def caps_of(output: str) -> dict[str, int]:
    return {l.split(":")[0]: int(l.split()[1], 16) for l in output.splitlines() if l.startswith("Cap")}


@pytest.fixture
def container(pyrunc, make_bundle):
    made = []

    def start(edit=None):
        b = make_bundle(["sleep", "1000"], edit)
        cid = new_id("cap")
        made.append(cid)
        pyrunc("run", "-d", "-b", str(b.path), cid, check=True)
        return cid, b

    yield start
    for cid in made:
        pyrunc("delete", "--force", cid)


def exec_caps(pyrunc, cid, *flags) -> dict[str, int]:
    p = pyrunc("exec", *flags, cid, "grep", "^Cap", "/proc/self/status")
    assert p.returncode == 0, p.stderr
    return caps_of(p.stdout)


def test_exec_inheritable_is_empty_by_default(pyrunc, container):
    cid, _ = container()
    caps = exec_caps(pyrunc, cid)
    assert caps["CapInh"] == 0 and caps["CapAmb"] == 0
    assert caps["CapEff"] & (1 << CAP_KILL)


def test_exec_cap_flag_does_not_fill_inheritable(pyrunc, container):
    cid, _ = container()
    caps = exec_caps(pyrunc, cid, "--cap", "CAP_SYS_ADMIN", "--cap", "NET_RAW")
    assert caps["CapInh"] == 0 and caps["CapAmb"] == 0
    for c in (CAP_SYS_ADMIN, CAP_NET_RAW):
        assert caps["CapEff"] & (1 << c) and caps["CapPrm"] & (1 << c) and caps["CapBnd"] & (1 << c)


def test_exec_inheritable_only_what_is_configured(pyrunc, container, tmp_path):
    def edit(c):
        c["process"]["capabilities"]["inheritable"] = ["CAP_KILL"]
    cid, b = container(edit)
    caps = exec_caps(pyrunc, cid)
    assert caps["CapInh"] == 1 << CAP_KILL
    caps = exec_caps(pyrunc, cid, "--cap", "CAP_SYS_ADMIN")
    assert caps["CapInh"] == 1 << CAP_KILL  # --cap never widens inheritable
    # a process.json without inheritable gets none
    proc = dict(b.config["process"], args=["grep", "^Cap", "/proc/self/status"])
    proc["capabilities"] = {k: v for k, v in proc["capabilities"].items() if k != "inheritable"}
    (tmp_path / "p.json").write_text(json.dumps(proc))
    p = pyrunc("exec", "-p", str(tmp_path / "p.json"), cid)
    assert p.returncode == 0, p.stderr
    assert caps_of(p.stdout)["CapInh"] == 0


def test_init_inheritable_is_empty_by_default(pyrunc, make_bundle):
    b = make_bundle(["grep", "^Cap", "/proc/self/status"])
    p = pyrunc("run", "-b", str(b.path), new_id("cap"))
    assert p.returncode == 0, p.stderr
    caps = caps_of(p.stdout)
    assert caps["CapInh"] == 0 and caps["CapAmb"] == 0
