"""The benchmark harness's own logic: runtime specs, import-time parsing,
the table, and the bundle it measures with (which every runtime must accept)."""
from __future__ import annotations

import os
import shutil

import pytest

from bench import importtime, report
from bench.bundle import Bundles
from bench.runtime import parse_spec


def test_runtime_spec_multi_word_command() -> None:
    rt = parse_spec('pyrunc=python3 -m pyrunc')
    assert rt.name == "pyrunc"
    assert rt.command == ["python3", "-m", "pyrunc"]
    rt.root = "/tmp/r"
    assert rt.argv("state", "x") == ["python3", "-m", "pyrunc", "--root", "/tmp/r", "state", "x"]


def test_runtime_spec_quoting_and_default_name() -> None:
    rt = parse_spec("""w=sh -c 'exec "$@"' sh""")
    assert rt.command == ["sh", "-c", 'exec "$@"', "sh"]
    assert parse_spec("/bin/true").name == "true"


@pytest.mark.parametrize("spec", ["x=", "x=/nonexistent/runtime", "a b=/bin/true"])
def test_runtime_spec_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_spec(spec)


IMPORTTIME = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 |     _distutils_hack
import time:       300 |        400 |   os
import time:      1000 |       1400 | site
import time:        50 |         50 |     click._compat
import time:       200 |        250 |   click.core
import time:       500 |        750 | click
some other stderr line
"""


def test_importtime_parse_depth_and_root() -> None:
    imports = {i.name: i for i in importtime.parse(IMPORTTIME)}
    assert set(imports) == {"_distutils_hack", "os", "site", "click._compat", "click.core", "click"}
    assert imports["_distutils_hack"].depth == 2
    assert imports["_distutils_hack"].root == "site"
    assert imports["click._compat"].root == "click"
    assert imports["click"].cumulative_us == 750
    packages = dict((n, us) for n, us, _ in importtime.by_package(imports))
    assert packages["click"] == 750


def test_table_medians_ratio_errors_and_skips() -> None:
    row = report.Row("run", "run /bin/true", "ms")
    for v in (10.0, 30.0, 20.0):
        row.add("runc", v)
    for v in (40.0, 60.0, 50.0):
        row.add("pyrunc", v)
    broken = report.Row("ops", "state", "ms", errors={"pyrunc": "exited 1: boom"})
    broken.add("runc", 4.0)
    skipped = report.Row("docker", "docker run", "ms", skipped="no docker daemon")
    text = report.table([row, broken, skipped], ["pyrunc", "runc"], "runc")
    lines = text.splitlines()
    assert lines[0].split() == ["case", "pyrunc", "runc", "pyrunc/runc", "n"]
    assert "50.0 ms" in lines[2] and "20.0 ms" in lines[2] and "2.50x" in lines[2]
    assert "error" in lines[3]
    assert "note: state: pyrunc: exited 1: boom" in text
    assert "note: docker run: skipped: no docker daemon" in text


def test_bench_bundle_is_a_valid_bundle(tmp_path) -> None:
    from pyrunc.spec.load import validate_bundle

    bundles = Bundles(str(tmp_path / "b"))
    assert os.path.realpath(os.path.join(bundles.rootfs, "bin", "true")).endswith("busybox")
    for bundle in (bundles.true, bundles.sleep, bundles.k8s_true, bundles.k8s_sleep):
        problems = [p for p in validate_bundle(bundle) if not p.startswith("warning")]
        assert problems == [], problems


@pytest.mark.skipif(shutil.which("runc") is None or os.geteuid() != 0, reason="needs root and runc")
def test_bench_end_to_end_with_runc(tmp_path) -> None:
    """A tiny real run against runc: every requested row gets samples and
    nothing is left behind (no timing is asserted)."""
    import json
    import subprocess
    import sys

    out = tmp_path / "out.json"
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--runtime", "runc=runc", "-n", "1", "--list-sizes", "1,3",
         "--only", "run,cycle,ops,list,memory,pause,k8s,throughput", "--lifecycles", "3,2",
         "--cpu", "--workdir", str(tmp_path), "--json", str(out)],
        cwd=repo, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    labels = {r["label"]: r for r in data["rows"]}
    assert "list (3 in store)" in labels and "created init RssAnon" in labels
    assert {"pause (running)", "k8s-like: create", "3 lifecycles, 2 at a time (wall)",
            "  CPU: state (running)"} <= set(labels)
    for r in data["rows"]:
        assert r["errors"] == {}, r
        assert len(r["samples"]["runc"]) == 1, r
    assert os.listdir(tmp_path) == ["out.json"]  # the work directory was removed


@pytest.mark.skipif(shutil.which("runc") is None or os.geteuid() != 0, reason="needs root and runc")
def test_bench_short_pyrunc_beside_runc(tmp_path) -> None:
    """The short version of issue 20's comparison that CI runs: pyrunc
    (this checkout) and runc through the same cases, every row measured for
    both and nothing left behind. The figures are printed, never asserted."""
    import json
    import subprocess
    import sys

    out = tmp_path / "out.json"
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--runtime", f"pyrunc={sys.executable} -m pyrunc", "--runtime", "runc=runc",
         "-n", "1", "--only", "ops,pause,k8s,throughput", "--lifecycles", "2,2", "--cpu",
         "--workdir", str(tmp_path), "--json", str(out)],
        cwd=repo, capture_output=True, text=True, timeout=300,
    )
    print(proc.stdout)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["rows"]
    for r in data["rows"]:
        assert r["errors"] == {}, r
        assert len(r["samples"]["pyrunc"]) == 1 and len(r["samples"]["runc"]) == 1, r
    assert os.listdir(tmp_path) == ["out.json"]
