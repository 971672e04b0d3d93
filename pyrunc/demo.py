"""`python3 -m pyrunc.demo`: build the embedded default bundle (busybox from
Debian's busybox-static) in a temporary directory and run it with pyrunc.
The container prints what proves it is isolated: its pid, hostname, root
and namespace inodes next to the host's."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

SCRIPT = r"""
echo "hello from a pyrunc container"
echo "  pid:      $$ (pid 1 of its own pid namespace)"
echo "  hostname: $(hostname)"
echo "  root:     $(ls / | tr '\n' ' ')"
for n in pid mnt uts ipc net; do echo "  ns/$n:   $(readlink /proc/self/ns/$n)"; done
"""


def build_bundle(dest: str) -> str:
    busybox = shutil.which("busybox")
    if busybox is None:
        raise SystemExit("busybox is not installed: apt-get install busybox-static")
    rootfs = os.path.join(dest, "rootfs")
    for d in ("bin", "proc", "sys", "dev", "tmp", "etc"):
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    shutil.copy2(busybox, os.path.join(rootfs, "bin", "busybox"))
    for applet in ("sh", "ls", "cat", "echo", "hostname", "readlink", "tr", "id", "ps", "sleep", "mount"):
        os.symlink("busybox", os.path.join(rootfs, "bin", applet))
    import json

    from pyrunc.spec.default import default_spec

    cfg = default_spec()
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["sh", "-c", SCRIPT]
    cfg["hostname"] = "pyrunc-demo"
    with open(os.path.join(dest, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    return dest


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="pyrunc-demo-") as tmp:
        bundle = build_bundle(os.path.join(tmp, "bundle"))
        print("host:")
        for n in ("pid", "mnt", "uts", "ipc", "net"):
            print(f"  ns/{n}:   {os.readlink(f'/proc/self/ns/{n}')}")
        cmd = [sys.executable, "-m", "pyrunc", "--root", os.path.join(tmp, "state"), "run", "--bundle", bundle,
               f"demo-{os.getpid()}"]
        return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
