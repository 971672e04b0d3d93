"""The Python API (pyrunc.api, docs/api.md): the worked example of
docs/api.md runs as written, on real containers.  runc has no Python API to
compare with; the command line that runc is compared against elsewhere
(tests/integration/test_lifecycle.py...) calls this same API."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PYRUNC, REPO, Runtime

DOC = REPO / "docs" / "api.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.S | re.M)


def _run(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    # TMPDIR: the example's tempfile.mkdtemp() lands in tmp_path, so the
    # test finds (and cleans) whatever it made, even when it fails
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)


def _cleanup(tmp_path: Path) -> list[str]:
    left = []
    for state in tmp_path.glob("pyrunc-example-*/state"):
        left += Runtime(PYRUNC, state).cleanup()
    for work in tmp_path.glob("pyrunc-example-*"):
        shutil.rmtree(work, ignore_errors=True)
    return left


@pytest.mark.skipif(os.geteuid() != 0, reason="the example creates containers as root")
@pytest.mark.skipif(shutil.which("busybox") is None, reason="the example copies busybox (apt-get install busybox-static)")
def test_worked_example_runs(tmp_path):
    text = DOC.read_text()
    example = text[text.index("## Worked example"):]
    blocks = python_blocks(example)
    assert len(blocks) >= 4
    try:
        p = _run("\n".join(blocks), tmp_path)
        assert p.returncode == 0, p.stdout + p.stderr
        lines = p.stdout.splitlines()
        assert lines[0] == "3 hello from example"
        assert lines[1].startswith("5 ")
        assert "container does not exist: nope" in lines
        assert any(line.startswith("process.args") for line in lines)
    finally:
        left = _cleanup(tmp_path)
    assert not left, f"the example left containers behind: {left}"


def test_configs_block_and_lazy_names(tmp_path):
    text = DOC.read_text()
    configs = python_blocks(text[text.index("## Configs"):text.index("## Worked example")])
    p = _run("import pyrunc\n" + "\n".join(configs), tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "['sh']\n"
    # `import pyrunc` stays empty; every documented name resolves
    code = ("import sys, pyrunc\n"
            "before = {m for m in sys.modules if m.startswith('pyrunc')}\n"
            "names = [getattr(pyrunc, n) for n in pyrunc.__all__]\n"
            "import pyrunc.spec.default\n"
            "assert pyrunc.spec.default()['ociVersion'] == pyrunc.SPEC_VERSION\n"
            "assert pyrunc.InvalidConfig is pyrunc.ConfigError\n"
            "print(sorted(before))\n")
    p = _run(code, tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "['pyrunc']\n"


def test_errors_name_what_they_are_about(tmp_path, make_bundle):
    import pyrunc

    rt = pyrunc.Runtime(root=tmp_path / "state")
    with pytest.raises(pyrunc.ContainerNotFound) as e:
        rt.get("nope")
    assert e.value.cid == "nope"
    with pytest.raises(pyrunc.InvalidIDError):
        rt.get("../x")
    bad = make_bundle(edit=lambda c: c["process"].__setitem__("cwd", "relative"))
    with pytest.raises(pyrunc.InvalidConfig) as e:
        rt.create("bad", bad.path)
    assert e.value.field == "process.cwd", str(e.value)
    assert rt.list() == []
    with pytest.raises(pyrunc.InvalidConfig):  # the config is checked before systemd is asked
        pyrunc.Runtime(root=tmp_path / "state", systemd_cgroup=True).create("x", bad.path)


def test_api_state_imports_nothing_heavy(tmp_path):
    """The library's hot calls are as lean as the command's (no pydantic,
    click, typing, json, re...): `import pyrunc` + Runtime + list/get."""
    from tests.unit.test_hot_path_imports import HOT

    code = ("import sys, pyrunc\n"
            "rt = pyrunc.Runtime(root=sys.argv[1], rootless=False)\n"
            "rt.list()\n"
            "try:\n"
            "    rt.get('nope').state()\n"
            "except pyrunc.ContainerNotFound:\n"
            "    pass\n"
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n")
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "state")], cwd=REPO, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert set(p.stdout.split()) & set(HOT) == set()


@pytest.mark.skipif(os.geteuid() != 0, reason="creates containers as root")
def test_update_stats_events_exec_detach(tmp_path, make_bundle, pyrunc):
    """The calls the worked example leaves out, on a running container;
    cross-checked with what the command line reports for it."""
    import pyrunc as lib

    rt = lib.Runtime(root=pyrunc.root)
    b = make_bundle(["sleep", "1000"])
    c = rt.create("t-apiupdat", b.path)
    try:
        c.start()
        assert pyrunc.state("t-apiupdat")["status"] == "running" == c.status
        merged = c.update({"pids": {"limit": 42}})
        assert merged["pids"]["limit"] == 42
        assert c.stats()["pids"]["limit"] == 42
        first = next(iter(c.events(interval=0.2)))
        assert first["type"] == "stats" and first["id"] == "t-apiupdat"
        pid = c.exec(["sleep", "1000"], detach=True)
        assert pid in c.ps() and c.pid in c.ps()
        p = pyrunc("ps", "--format", "json", "t-apiupdat", check=True)
        import json

        assert sorted(json.loads(p.stdout)) == sorted(c.ps())
        with pytest.raises(lib.StateError):
            c.delete()
    finally:
        c.delete(force=True)
    assert not rt.exists("t-apiupdat")
