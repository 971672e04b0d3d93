"""`pyrunc validate` (pyrunc.spec.validate) on real bundle directories."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pyrunc.spec.default import default_spec
from spec_oracles import REPO


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyrunc.spec.validate", *args],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip


def make_bundle(path: Path, config: dict) -> str:
    (path / "rootfs").mkdir(exist_ok=True)
    (path / "config.json").write_text(json.dumps(config))
    return str(path)


def test_valid_bundle(tmp_path: Path) -> None:
    out = run("--bundle", make_bundle(tmp_path, default_spec()))
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout == f"{tmp_path}: valid (0 warning(s))\n"


def test_every_problem_one_line_each(tmp_path: Path) -> None:
    config = default_spec()
    config["process"]["cwd"] = "work"
    config["linux"]["namespaces"].append({"type": "uts"})
    config["linux"]["namespaces"][0]["type"] = "pids"
    config["mounts"][0]["destination"] = "proc"
    out = run("-b", make_bundle(tmp_path, config))
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert lines[0].startswith("linux.namespaces[0].type: input should be 'mount'")
    assert "process.cwd: must be an absolute path, got 'work'" in lines
    assert "linux.namespaces[5].type: duplicate namespace 'uts'" in lines
    assert any(line.startswith("warning: mounts[0].destination:") for line in lines)
    assert lines[-1] == f"{tmp_path}: 3 error(s), 1 warning(s)"


def test_warnings_alone_pass(tmp_path: Path) -> None:
    config = default_spec()
    config["mounts"][0]["destination"] = "proc"
    out = run("-q", "-b", make_bundle(tmp_path, config))
    assert out.returncode == 0
    assert out.stdout.startswith("warning: mounts[0].destination: relative destination")
    assert len(out.stdout.splitlines()) == 1


def test_missing_bundle(tmp_path: Path) -> None:
    out = run("-b", str(tmp_path / "gone"))
    assert out.returncode == 1
    assert out.stdout.splitlines()[0] == f"{tmp_path / 'gone'}: bundle does not exist"
