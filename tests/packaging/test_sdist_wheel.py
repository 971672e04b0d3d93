"""The distributions a user installs: build the sdist from the checkout and a
wheel from that sdist (what `python -m build` does), install each into a
fresh venv, and run a busybox container with the `pyrunc` command the
install made.  Everything is installed offline (`--no-index`) from a local
wheelhouse, build/wheelhouse, filled once from the package index.

This is about installing, not behaviour: the container's behaviour is
compared with runc by the integration tests, which run the same code."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, Runtime, new_id

pytestmark = pytest.mark.packaging

WHEELHOUSE = REPO / "build" / "wheelhouse"
def _requirements() -> list[str]:
    """What building (pyproject's build-system: setuptools, cffi; `build`
    itself) and running pyrunc (its dependencies) need, read from
    pyproject.toml so the two cannot drift."""
    import tomllib

    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    return [*meta["build-system"]["requires"], "build", *meta["project"]["dependencies"]]


REQUIREMENTS = _requirements()
PIP_QUIET = ["--disable-pip-version-check", "-q"]


def _run(argv: list[str], timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    assert p.returncode == 0, f"{' '.join(map(str, argv))} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


def _venv(path: Path) -> Path:
    # the interpreter running the tests, but never its venv's packages
    base = getattr(sys, "_base_executable", sys.executable)
    _run([base, "-m", "venv", str(path)])
    return path / "bin" / "python"


@pytest.fixture(scope="module")
def wheelhouse() -> Path:
    """Wheels of every build and runtime requirement (pip wheel builds
    python-prctl's, which PyPI has only as an sdist)."""
    import re

    have = {p.name.split("-")[0].lower() for p in WHEELHOUSE.glob("*.whl")}
    want = {re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0].lower().replace("-", "_") for r in REQUIREMENTS}
    if not want <= have:
        WHEELHOUSE.mkdir(parents=True, exist_ok=True)
        p = subprocess.run([sys.executable, "-m", "pip", "wheel", *PIP_QUIET, "-w", str(WHEELHOUSE), *REQUIREMENTS],
                           capture_output=True, text=True, timeout=900)
        if p.returncode != 0:
            pytest.skip(f"cannot fill {WHEELHOUSE} from the package index (offline?): {p.stderr.strip()[-300:]}")
    return WHEELHOUSE


@pytest.fixture(scope="module")
def dists(wheelhouse: Path, tmp_path_factory) -> dict[str, Path]:
    """{'sdist': ..., 'wheel': ...}: `python -m build` of the checkout, with
    its build requirements from the wheelhouse."""
    tmp = tmp_path_factory.mktemp("dists")
    py = _venv(tmp / "build-venv")
    _run([str(py), "-m", "pip", "install", *PIP_QUIET, "--no-index", "--find-links", str(wheelhouse), "build"])
    out = tmp / "dist"
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse)}
    log = _run([str(py), "-m", "build", "--outdir", str(out), str(REPO)], env=env)
    found = {"sdist": list(out.glob("pyrunc-*.tar.gz")), "wheel": list(out.glob("pyrunc-*.whl"))}
    assert all(len(v) == 1 for v in found.values()), (found, log.stdout[-2000:])
    assert "SetuptoolsDeprecationWarning" not in log.stdout + log.stderr, log.stderr[-3000:]
    return {k: v[0] for k, v in found.items()}


def test_sdist_has_the_c_sources_and_no_build_output(dists):
    with tarfile.open(dists["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for needed in ("csrc/init/main.c", "csrc/init/init.h", "conformance/checker/checker.c", "setup.py",
                   "pyproject.toml", "LICENSE", "README.md", "CHANGELOG.md", "pyrunc/linux/_seccomp_build.py"):
        assert needed in names, needed
    assert not [n for n in names if n.endswith((".so", ".pyc")) or "libexec/" in n]


def test_wheel_has_the_init_the_module_and_the_lean_script(dists):
    with zipfile.ZipFile(dists["wheel"]) as whl:
        names = set(whl.namelist())
        script = whl.read("pyrunc-0.1.0.data/scripts/pyrunc").decode()
        meta = whl.read("pyrunc-0.1.0.dist-info/METADATA").decode()
    assert "pyrunc/libexec/pyrunc-init" in names
    assert any(n.startswith("pyrunc/linux/_seccomp.") and n.endswith(".so") for n in names)
    assert "pyrunc-0.1.0.dist-info/licenses/LICENSE" in names
    # a lean script, not pip's console-script template (which imports re)
    assert not any(n.endswith("entry_points.txt") for n in names)
    assert script.startswith("#!python\n") and "import re" not in script
    assert "License-Expression: Apache-2.0" in meta and "Operating System :: POSIX :: Linux" in meta


@pytest.mark.parametrize("kind", ["sdist", "wheel"])
def test_install_into_a_fresh_venv_and_run_a_container(kind, dists, wheelhouse, make_bundle, tmp_path):
    py = _venv(tmp_path / "venv")
    # the sdist builds the init and the cffi module here (build isolation, offline)
    _run([str(py), "-m", "pip", "install", *PIP_QUIET, "--no-index", "--find-links", str(wheelhouse),
          str(dists[kind])])
    exe = tmp_path / "venv" / "bin" / "pyrunc"
    assert exe.read_text().startswith(f"#!{py}"), exe.read_text()[:200]
    site = _run([str(py), "-c", "import pyrunc, os; print(os.path.dirname(pyrunc.__file__))"],
                cwd=tmp_path).stdout.strip()
    assert site.startswith(str(tmp_path / "venv")), site  # the installed copy, not the checkout
    assert os.access(os.path.join(site, "libexec", "pyrunc-init"), os.X_OK)

    rt = Runtime([str(exe)], tmp_path / "state")
    bundle = make_bundle(["sh", "-c", "echo hello from $(hostname); exit 3"],
                         edit=lambda c: c.__setitem__("hostname", "packaged"))
    cid = new_id()
    try:
        p = rt("run", "--bundle", str(bundle.path), cid, cwd=tmp_path)
        assert (p.returncode, p.stdout) == (3, "hello from packaged\n"), p.stderr
        assert rt.ids() == []  # run deleted it
    finally:
        left = rt.cleanup()
    assert not left

    # the library from the same install
    code = ("import pyrunc, sys\n"
            "rt = pyrunc.Runtime(root=sys.argv[1])\n"
            "print(len(rt.list()), pyrunc.spec.default()['ociVersion'])\n")
    out = _run([str(py), "-c", code, str(tmp_path / "state")], cwd=tmp_path).stdout
    assert out == "0 1.3.0\n"


def test_uninstall_removes_everything(dists, wheelhouse, tmp_path):
    py = _venv(tmp_path / "venv")
    pip = [str(py), "-m", "pip"]
    _run([*pip, "install", *PIP_QUIET, "--no-index", "--find-links", str(wheelhouse), str(dists["wheel"])])
    _run([*pip, "uninstall", "-y", "-q", "pyrunc"])
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['platlib'])"]).stdout.strip())
    assert not (site / "pyrunc").exists() or not list((site / "pyrunc").rglob("*")), list((site / "pyrunc").rglob("*"))
    assert not (tmp_path / "venv" / "bin" / "pyrunc").exists()
