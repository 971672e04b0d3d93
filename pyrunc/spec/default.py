"""The default config.json written by `pyrunc spec`, as `runc spec` writes it.

The same content as runc's libcontainer/specconv Example() and ToRootless(),
with ociVersion 1.3.0.  A plain dict: importing this module costs nothing
(no pydantic).
"""
from __future__ import annotations

import os
from typing import Any

from pyrunc.spec.version import OCI_VERSION

_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def _cgroup2_unified() -> bool:
    """True when /sys/fs/cgroup is a cgroup2 mount (unified mode)."""
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def _example() -> dict[str, Any]:
    namespaces = [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")]
    if _cgroup2_unified():
        namespaces.append({"type": "cgroup"})
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm",
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": list(_CAPS),
                "effective": list(_CAPS),
                "permitted": list(_CAPS),
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
            },
            {
                "destination": "/dev/pts",
                "type": "devpts",
                "source": "devpts",
                "options": [
                    "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5",
                ],  # fmt: skip
            },
            {
                "destination": "/dev/shm",
                "type": "tmpfs",
                "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
            },
            {
                "destination": "/dev/mqueue",
                "type": "mqueue",
                "source": "mqueue",
                "options": ["nosuid", "noexec", "nodev"],
            },
            {
                "destination": "/sys",
                "type": "sysfs",
                "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"],
            },
            {
                "destination": "/sys/fs/cgroup",
                "type": "cgroup",
                "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
            },
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": namespaces,
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi", "/sys/devices/virtual/tpm",
            ],  # fmt: skip
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
            ],  # fmt: skip
        },
    }


def _to_rootless(spec: dict[str, Any]) -> None:
    """What runc's ToRootless does: a user namespace mapping the caller to root,
    no network namespace, /sys bound from the host, no uid=/gid= mount
    options, no cgroup resources."""
    linux = spec["linux"]
    linux["namespaces"] = [
        ns for ns in linux["namespaces"] if ns["type"] not in ("network", "user")
    ] + [{"type": "user"}]
    linux["uidMappings"] = [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    linux["gidMappings"] = [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
    mounts = []
    for m in spec["mounts"]:
        if os.path.normpath(m["destination"]) == "/sys":
            mounts.append(
                {
                    "destination": "/sys",
                    "type": "none",
                    "source": "/sys",
                    "options": ["rbind", "nosuid", "noexec", "nodev", "ro"],
                }
            )
            continue
        if "options" in m:
            m["options"] = [o for o in m["options"] if not o.startswith(("uid=", "gid="))]
        mounts.append(m)
    spec["mounts"] = mounts
    linux.pop("resources", None)


def default_spec(rootless: bool = False) -> dict[str, Any]:
    """A fresh default config (a new dict on every call)."""
    spec = _example()
    if rootless:
        _to_rootless(spec)
    return spec


class _CallableModule(type(os)):  # type: ignore[misc]
    """`pyrunc.spec.default(rootless=False)`: this module, called, is
    default_spec (the package attribute of that name is this module)."""

    def __call__(self, rootless: bool = False) -> dict[str, Any]:
        return default_spec(rootless)


import sys as _sys  # noqa: E402

_sys.modules[__name__].__class__ = _CallableModule
