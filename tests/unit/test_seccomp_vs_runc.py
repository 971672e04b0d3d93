"""The same seccomp profiles enforced by runc (inside a busybox container with
every capability, so only seccomp denies) and by our compiled program (loaded
in a forked child that execs busybox on the host) give the same results."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from typing import Any, Callable, Iterator

import pytest

from pyrunc.linux import capabilities as caps
from pyrunc.linux import seccomp as sc
from test_seccomp_load import BUSYBOX, docker_like_profile, podman_like_profile, run_child

RUNC = shutil.which("runc")
pytestmark = pytest.mark.skipif(
    RUNC is None or os.geteuid() != 0 or not os.path.exists(BUSYBOX), reason="needs root, runc and busybox-static"
)

# Each probe prints one line; errors go to stdout too so messages are compared.
SCRIPT = r"""
echo start
busybox unshare -u true 2>&1; echo "unshare=$?"
busybox swapoff /nonexistent 2>&1; echo "swapoff=$?"
busybox renice -n 1 -p $$ 2>&1; echo "renice=$?"
busybox ionice -c 3 true 2>&1; echo "ionice=$?"
busybox sh -c 'echo child' ; echo "fork=$?"
busybox linux32 busybox uname -m 2>&1; echo "linux32=$?"
busybox chroot / true 2>&1; echo "chroot=$?"
busybox sync; echo "sync=$?"
grep -E '^(Seccomp|Seccomp_filters|NoNewPrivs):' /proc/self/status
"""


@pytest.fixture
def bundle() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="pyrunc-sc-runc-")
    try:
        rootfs = os.path.join(d, "rootfs")
        for sub in ("bin", "proc", "dev", "sys", "tmp"):
            os.makedirs(os.path.join(rootfs, sub))
        shutil.copy2(BUSYBOX, os.path.join(rootfs, "bin", "busybox"))
        for applet in ("sh", "grep", "echo", "true"):
            os.symlink("busybox", os.path.join(rootfs, "bin", applet))
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def run_runc(bundle: str, profile: dict) -> str:
    subprocess.run([RUNC, "spec", "--bundle", bundle], check=True)
    cfg_path = os.path.join(bundle, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    with open("/proc/self/status") as f:
        ours = next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))
    all_caps = caps.mask_to_names(ours & caps.all_caps_mask())  # every capability we hold
    cfg["process"].update(terminal=False, args=["sh", "-c", SCRIPT], noNewPrivileges=True,
                          capabilities={s: all_caps for s in ("bounding", "effective", "permitted")})
    cfg["root"]["readonly"] = False
    cfg["linux"]["seccomp"] = profile
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    root = os.path.join(bundle, "runc-root")
    cid = f"pyrunc-sc-{uuid.uuid4().hex[:8]}"
    try:
        out = subprocess.run([RUNC, "--root", root, "run", "--bundle", bundle, cid],
                             capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert out.returncode == 0, out.stderr
        return out.stdout
    finally:
        subprocess.run([RUNC, "--root", root, "delete", "-f", cid], capture_output=True)


def run_ours(profile: dict) -> str:
    prog = sc.compile_seccomp(profile)
    assert prog is not None

    def body() -> Any:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.dup2(w, 1)
            os.execv(BUSYBOX, ["sh", "-c", SCRIPT])
        os.close(w)
        out = b""
        while chunk := os.read(r, 4096):
            out += chunk
        os.waitpid(pid, 0)
        return out.decode()

    res, _ = run_child(prog, body)
    return res


def normalize(out: str) -> list[str]:
    # busybox names itself by argv[0]; hide which path it was started as
    return [line.replace("/bin/busybox", "busybox") for line in out.strip().splitlines()]


@pytest.mark.parametrize("profile", [docker_like_profile, podman_like_profile])
def test_same_behaviour_as_runc(bundle: str, profile: Callable[[], dict]) -> None:
    p = profile()
    p.pop("archMap", None)
    theirs = normalize(run_runc(bundle, p))
    ours = normalize(run_ours(p))
    assert theirs[0] == "start" and "Seccomp:\t2" in theirs
    assert ours == theirs
