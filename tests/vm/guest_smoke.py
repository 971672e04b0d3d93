#!/usr/bin/env python3
"""Container smoke test meant to run INSIDE the cgroup v2 VM.

    python3 tests/vm/guest_smoke.py [--runtime "runc"]

Builds a busybox bundle in a temp dir, creates a container with a 64 MiB
memory limit and a pids limit under a fixed cgroupsPath, reads memory.max and
pids.max back from the host side while it is created, starts it (it prints
its own view of memory.max), deletes it and checks the cgroup is gone.
Prints ``SMOKE-OK <json>`` and exits 0, or ``SMOKE-FAIL <reason>`` and exits 1.
The runtime is any runc-compatible command line (a pyrunc variant can pass
``--runtime "python3 -m pyrunc"``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MEMORY_LIMIT = 64 << 20
PIDS_LIMIT = 32
CGROUP_ROOT = Path("/sys/fs/cgroup")


class SmokeFailure(Exception):
    pass


def make_bundle(base: Path, cgroups_path: str) -> Path:
    bundle = base / "bundle"
    rootfs = bundle / "rootfs"
    for d in ("bin", "proc", "sys", "dev", "tmp", "etc"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    busybox = shutil.which("busybox") or "/bin/busybox"
    shutil.copy2(busybox, rootfs / "bin" / "busybox")
    for applet in ("sh", "cat", "echo", "sleep", "ls"):
        (rootfs / "bin" / applet).symlink_to("busybox")
    config = {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh", "-c", "echo inside-memory.max=$(cat /sys/fs/cgroup/memory.max)"],
            "env": ["PATH=/bin"],
            "cwd": "/",
            "capabilities": {k: ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]
                             for k in ("bounding", "effective", "permitted")},
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "smoke",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"},
        ],
        "linux": {
            "cgroupsPath": cgroups_path,
            "resources": {
                "memory": {"limit": MEMORY_LIMIT},
                "pids": {"limit": PIDS_LIMIT},
            },
            "namespaces": [{"type": t} for t in
                           ("pid", "network", "ipc", "uts", "mount", "cgroup")],
            "maskedPaths": ["/proc/kcore", "/proc/keys"],
            "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"],
        },
    }
    (bundle / "config.json").write_text(json.dumps(config, indent=2))
    return bundle


def run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)


def check(proc: subprocess.CompletedProcess[str], what: str) -> None:
    if proc.returncode != 0:
        raise SmokeFailure(f"{what}: exit {proc.returncode}: {proc.stderr.strip()}")


def smoke(runtime: list[str], base: Path) -> dict[str, object]:
    cid = f"vm-smoke-{os.getpid()}"
    cg_rel = f"vm-smoke-{os.getpid()}"
    bundle = make_bundle(base, "/" + cg_rel)
    root = base / "state"
    rt = [*runtime, "--root", str(root)]
    out_path = base / "container.out"
    cg_dir = CGROUP_ROOT / cg_rel
    t0 = time.monotonic()
    created = False
    try:
        # The container init inherits create's stdio: files, never pipes
        # (a pipe would stay open until the container exits).
        err_path = base / "create.err"
        with out_path.open("w") as out, err_path.open("w") as err:
            rc = subprocess.run([*rt, "create", "--bundle", str(bundle), cid],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                timeout=120).returncode
        if rc != 0:
            raise SmokeFailure(f"create: exit {rc}: {err_path.read_text().strip()}")
        created = True
        if not cg_dir.is_dir():
            raise SmokeFailure(f"{cg_dir}: container cgroup missing after create")
        memory_max = (cg_dir / "memory.max").read_text().strip()
        pids_max = (cg_dir / "pids.max").read_text().strip()
        if memory_max != str(MEMORY_LIMIT):
            raise SmokeFailure(f"{cg_dir}/memory.max: {memory_max!r} != {MEMORY_LIMIT}")
        if pids_max != str(PIDS_LIMIT):
            raise SmokeFailure(f"{cg_dir}/pids.max: {pids_max!r} != {PIDS_LIMIT}")
        procs = (cg_dir / "cgroup.procs").read_text().split()
        state = json.loads(run([*rt, "state", cid]).stdout or "{}")
        if str(state.get("pid")) not in procs:
            raise SmokeFailure(f"init pid {state.get('pid')} not in {cg_dir}/cgroup.procs {procs}")
        check(run([*rt, "start", cid]), "start")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            st = json.loads(run([*rt, "state", cid]).stdout or "{}")
            if st.get("status") == "stopped":
                break
            time.sleep(0.2)
        else:
            raise SmokeFailure("container did not stop within 60s")
        check(run([*rt, "delete", cid]), "delete")
        created = False
        inside = out_path.read_text().strip()
        if inside != f"inside-memory.max={MEMORY_LIMIT}":
            raise SmokeFailure(f"container saw {inside!r}, expected memory.max={MEMORY_LIMIT}")
        if cg_dir.exists():
            raise SmokeFailure(f"{cg_dir}: cgroup left after delete")
        return {"runtime": " ".join(runtime), "memory.max": memory_max,
                "pids.max": pids_max, "inside": inside,
                "seconds": round(time.monotonic() - t0, 2)}
    finally:
        if created:
            run([*rt, "delete", "--force", cid])
        if cg_dir.exists():
            try:
                cg_dir.rmdir()
            except OSError:
                pass


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runtime", default="runc", help="runc-compatible command line")
    args = ap.parse_args()
    if not (CGROUP_ROOT / "cgroup.controllers").is_file():
        print("SMOKE-FAIL /sys/fs/cgroup is not a cgroup2 root")
        return 1
    base = Path(tempfile.mkdtemp(prefix="vm-smoke-"))
    try:
        result = smoke(shlex.split(args.runtime), base)
    except (SmokeFailure, subprocess.TimeoutExpired, OSError) as err:
        print(f"SMOKE-FAIL {err}")
        return 1
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("SMOKE-OK " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
