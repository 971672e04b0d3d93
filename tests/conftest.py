"""Shared fixtures: a busybox root filesystem, bundles made from pyrunc's
default spec, and a runtime driver with a private state root that deletes
whatever a test left behind — even when the test fails."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Callable

import pytest

REPO = Path(__file__).resolve().parent.parent


def shared_path(*parts: str) -> Path:
    """A file of the shared reference data (the runtime-spec schemas and
    fixtures, the CRI protocol), read in place, never copied: $PYRUNC_SHARED,
    else `shared` beside the checkout, else /work/shared (where this
    machine keeps it, for a checkout cloned anywhere else)."""
    candidates = [Path(os.environ["PYRUNC_SHARED"])] if os.environ.get("PYRUNC_SHARED") else []
    candidates += [REPO.parent / "shared", Path("/work/shared")]
    for base in candidates:
        if (base / Path(*parts)).exists():
            return base / Path(*parts)
    return candidates[0] / Path(*parts)
BUSYBOX = shutil.which("busybox") or "/bin/busybox"
PYRUNC = [sys.executable, "-m", "pyrunc"]


def build_busybox_rootfs(dest: Path) -> Path:
    """A minimal root filesystem: static busybox and its applets."""
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "root", "home/user"):
        (dest / d).mkdir(parents=True, exist_ok=True)
    os.chmod(dest / "tmp", 0o1777)
    shutil.copy2(BUSYBOX, dest / "bin" / "busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for a in applets:
        link = dest / "bin" / a
        if not link.exists():
            link.symlink_to("busybox")
    (dest / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n")
    (dest / "etc" / "group").write_text("root:x:0:\nuser:x:1000:\n")
    return dest


@pytest.fixture(scope="session")
def rootfs_template(tmp_path_factory) -> Path:
    return build_busybox_rootfs(tmp_path_factory.mktemp("rootfs-template") / "rootfs")


def default_config(args: list[str]) -> dict[str, Any]:
    from pyrunc.spec.default import default_spec

    cfg = default_spec()
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = args
    return cfg


class Bundle:
    def __init__(self, path: Path, config: dict[str, Any]) -> None:
        self.path = path
        self.config = config

    @property
    def rootfs(self) -> Path:
        return self.path / "rootfs"

    def write(self) -> "Bundle":
        (self.path / "config.json").write_text(json.dumps(self.config, indent=1))
        return self


@pytest.fixture
def make_bundle(tmp_path: Path, rootfs_template: Path) -> Callable[..., Bundle]:
    n = [0]

    def make(args: list[str] | None = None, edit: Callable[[dict], None] | None = None) -> Bundle:
        n[0] += 1
        path = tmp_path / f"bundle{n[0]}"
        path.mkdir()
        shutil.copytree(rootfs_template, path / "rootfs", symlinks=True)
        cfg = default_config(args or ["true"])
        if edit:
            edit(cfg)
        return Bundle(path, cfg).write()

    return make


class Runtime:
    """Drives a runtime binary (pyrunc or runc) with a private --root."""

    def __init__(self, argv: list[str], root: Path) -> None:
        self.argv = argv
        self.root = root

    def __call__(self, *args: str, check: bool = False, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
        """Run the runtime; output is collected through files, not pipes: a
        created container's init holds the stdio it inherited, and a pipe
        would never see EOF."""
        import tempfile

        argv = [*self.argv, "--root", str(self.root), *args]
        if "capture_output" in kw or "stdout" in kw:
            kw.setdefault("text", True)
            p = subprocess.run(argv, timeout=timeout, **kw)
        else:
            with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
                kw.setdefault("stdin", subprocess.DEVNULL)
                rc = subprocess.run(argv, timeout=timeout, stdout=out, stderr=err, **kw).returncode
                out.seek(0)
                err.seek(0)
                p = subprocess.CompletedProcess(argv, rc, out.read().decode(errors="replace"),
                                                err.read().decode(errors="replace"))
        if check and p.returncode != 0:
            raise AssertionError(f"{args} failed ({p.returncode}): {p.stderr}")
        return p

    def state(self, cid: str) -> dict[str, Any]:
        return json.loads(self("state", cid, check=True).stdout)

    def ids(self) -> list[str]:
        try:
            return sorted(os.listdir(self.root))
        except FileNotFoundError:
            return []

    def cleanup(self) -> list[str]:
        left = self.ids()
        for cid in left:
            self("delete", "--force", cid)
        return left


def new_id(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def cgroup_dirs_named(name: str) -> list[str]:
    found = []
    for base, dirs, _ in os.walk("/sys/fs/cgroup"):
        for d in dirs:
            if d == name:
                found.append(os.path.join(base, d))
        if base.count("/") > 6:
            dirs[:] = []
    return found


@pytest.fixture
def console_receiver(tmp_path: Path):
    """Makes console sockets (AF_UNIX listeners that receive a pty master,
    tests/integration/test_tty.py's ConsoleReceiver); closes them afterwards."""
    from tests.integration.test_tty import ConsoleReceiver

    made = []

    def make() -> ConsoleReceiver:
        r = ConsoleReceiver(str(tmp_path / f"console{len(made)}.sock"))
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@pytest.fixture
def pyrunc(tmp_path: Path):
    rt = Runtime(PYRUNC, tmp_path / "state")
    yield rt
    left = rt.cleanup()
    assert not rt.ids(), f"delete --force could not remove {rt.ids()}"
    assert not left, f"the test left containers behind: {left}"


@pytest.fixture
def runc(tmp_path: Path):
    exe = shutil.which("runc")
    if exe is None:
        pytest.skip("runc is not installed (apt-get install runc): the comparison needs it")
    rt = Runtime([exe], tmp_path / "runc-state")
    yield rt
    rt.cleanup()


def block_device() -> tuple[int, int] | None:
    """(major, minor) of a real block device of this host, for blkio/io limits."""
    for name in sorted(os.listdir("/sys/block")):
        if name.startswith(("loop", "ram", "zram", "dm-")):
            continue
        try:
            mj, mn = open(f"/sys/block/{name}/dev").read().strip().split(":")
            return int(mj), int(mn)
        except OSError:
            continue
    return None


def mounts_mentioning(text: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [l for l in f if text in l]


def _leftovers(basetemp: str) -> list[str]:
    """Mounts under the test temp dirs and cgroups named like test containers."""
    found = [f"mount: {l.split()[4]}" for l in mounts_mentioning(basetemp)]
    for base, dirs, _ in os.walk("/sys/fs/cgroup"):
        for d in dirs:
            if d.startswith("t-") and len(d) == 12:
                found.append(f"cgroup: {os.path.join(base, d)}")
        if base.count("/") > 6:
            dirs[:] = []
    return found


def pytest_sessionfinish(session, exitstatus):
    """The whole suite leaves no mounts or cgroups behind, even when tests fail."""
    if os.geteuid() != 0:
        return
    basetemp = str(session.config._tmp_path_factory.getbasetemp()) if hasattr(session.config, "_tmp_path_factory") else ""
    if not basetemp:
        return
    left = _leftovers(basetemp)
    if left:
        sys.stderr.write("\nthe test suite left these behind:\n  " + "\n  ".join(left) + "\n")
        session.exitstatus = 1
