"""dockerd with pyrunc as `default-runtime` in daemon.json (no --runtime on
the command line) and `live-restore`: containers survive a restart of
dockerd and containerd and are then stopped cleanly."""
from __future__ import annotations

import os

import pytest

from tests.clients.conftest import require
from tests.clients.harness import Docker, Sandbox, start_containerd, wait_for
from tests.clients.image import rootfs_tar

IMAGE = "pbusybox:latest"


class Env:
    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.containerd, self.sock = start_containerd(sb)
        self.dk = Docker(sb, self.sock)
        self.config = {"runtimes": {"pyrunc": {"path": str(sb.wrapper)}}, "default-runtime": "pyrunc",
                       "live-restore": True}
        self.dk.start(self.config)

    def restart_daemons(self) -> None:
        self.dk.stop()
        self.sb.stop(self.containerd)
        self.containerd, _ = start_containerd(self.sb)
        self.dk.start(self.config)


@pytest.fixture(scope="module")
def env():
    require("dockerd", "containerd", "docker", "runc")
    sb = Sandbox("dockerdef")
    try:
        e = Env(sb)
        (sb.dir / "rootfs.tar").write_bytes(rootfs_tar())
        e.dk.docker("import", "-c", 'CMD ["sh"]', str(sb.dir / "rootfs.tar"), IMAGE, check=True)
        yield e
    finally:
        left = sb.close()
        assert left == [], f"left behind: {left}"


def test_default_runtime_is_pyrunc(env):
    dk = env.dk
    assert dk.docker("info", "--format", "{{.DefaultRuntime}}", check=True).stdout.strip() == "pyrunc"
    r = dk.docker("run", "--rm", "--name", "dflt", IMAGE, "sh", "-c", "echo via default; exit 4")
    assert (r.returncode, r.stdout) == (4, "via default\n"), r.stderr
    assert any(" create --bundle " in line for line in env.sb.argv_lines()), "pyrunc was never called"


def test_default_runtime_exec(env):
    dk = env.dk
    dk.docker("run", "-d", "--name", "dexec", IMAGE, "sleep", "1000", check=True)
    try:
        assert dk.docker("inspect", "-f", "{{.HostConfig.Runtime}}", "dexec").stdout.strip() == "pyrunc"
        r = dk.docker("exec", "dexec", "sh", "-c", "echo in; exit 6")
        assert (r.returncode, r.stdout) == (6, "in\n"), r.stderr
        assert any(" exec " in f" {line} " and "--process" in line for line in env.sb.argv_lines())
    finally:
        dk.docker("rm", "-f", "dexec")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_live_restore_across_dockerd_and_containerd_restart(env):
    dk = env.dk
    names = {"lr-pyrunc": "pyrunc", "lr-runc": "runc"}
    for n, rt in names.items():
        dk.docker("run", "-d", "--runtime", rt, "--name", n, IMAGE, "sleep", "1000", check=True)
    try:
        pids = {n: int(dk.docker("inspect", "-f", "{{.State.Pid}}", n, check=True).stdout) for n in names}
        env.restart_daemons()
        for n, pid in pids.items():
            assert _alive(pid), f"{n}: container init {pid} died across the daemon restart"
            assert dk.docker("inspect", "-f", "{{.State.Status}} {{.State.Pid}}", n).stdout.split() == ["running", str(pid)]
            r = dk.docker("exec", n, "echo", "still here")
            assert r.stdout == "still here\n", f"{n}: {r.stderr}"
        for n, pid in pids.items():
            dk.docker("stop", "-t", "2", n, check=True)
            assert dk.docker("inspect", "-f", "{{.State.Status}}", n).stdout.strip() == "exited"
            wait_for(lambda: not _alive(pid), what=f"{n} init gone")
    finally:
        for n in names:
            dk.docker("rm", "-f", n)
