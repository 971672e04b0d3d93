"""The benchmark bundles: one busybox rootfs shared (read-only) by a bundle
running `/bin/true` and one running `sleep`, with the config `runc spec`
would write (namespaces, the usual mounts, masked paths, deny-all devices) so
every runtime does the same, realistic amount of work."""
from __future__ import annotations

import json
import os
import shutil
from typing import Any

from . import k8s
from .proc import BenchError

BUSYBOX = "/bin/busybox"
APPLETS = ("true", "sleep", "sh")
CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def build_rootfs(path: str, busybox: str = BUSYBOX) -> None:
    if not os.access(busybox, os.X_OK):
        raise BenchError(f"{busybox}: not found (install busybox-static)")
    os.makedirs(os.path.join(path, "bin"))
    for d in ("proc", "dev", "sys", "tmp", "etc", "root"):
        os.makedirs(os.path.join(path, d))
    shutil.copy2(busybox, os.path.join(path, "bin", "busybox"))
    for applet in APPLETS:
        os.symlink("busybox", os.path.join(path, "bin", applet))


def config(rootfs: str, args: list[str]) -> dict[str, Any]:
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            # as `runc spec` minus "ambient": runc ignores ambient capabilities
            # that are not inheritable, a stricter runtime may refuse them
            "capabilities": {k: list(CAPS) for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": rootfs, "readonly": True},
        "hostname": "bench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi",
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
            ],
        },
    }


class Bundles:
    """<dir>/rootfs, <dir>/true/config.json and <dir>/sleep/config.json, and
    the Kubernetes-like <dir>/k8s-true and <dir>/k8s-sleep (bench/k8s.py)."""

    def __init__(self, directory: str) -> None:
        self.rootfs = os.path.join(directory, "rootfs")
        self.true = os.path.join(directory, "true")
        self.sleep = os.path.join(directory, "sleep")
        self.k8s_true = os.path.join(directory, "k8s-true")
        self.k8s_sleep = os.path.join(directory, "k8s-sleep")
        build_rootfs(self.rootfs)
        volumes_dir = os.path.join(directory, "volumes")
        volumes = k8s.prepare_volumes(volumes_dir, self.rootfs)
        for bundle, args, kube in ((self.true, ["/bin/true"], False), (self.sleep, ["/bin/sleep", "1000000"], False),
                                   (self.k8s_true, ["/bin/true"], True),
                                   (self.k8s_sleep, ["/bin/sleep", "1000000"], True)):
            os.makedirs(bundle)
            spec = config(self.rootfs, args)
            if kube:
                spec = k8s.config(spec, volumes_dir, volumes)
            with open(os.path.join(bundle, "config.json"), "w") as f:
                json.dump(spec, f, indent=1)
