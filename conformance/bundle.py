"""Bundles (bundle.md): a directory with config.json and a rootfs, built in code."""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from . import SPEC_VERSION

DEFAULT_CAPS = [
    "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
    "CAP_SETUID", "CAP_SYS_CHROOT",
]

DEFAULT_MOUNTS: list[dict[str, Any]] = [
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
]

DEFAULT_NAMESPACES = ["pid", "network", "ipc", "uts", "mount"]


def base_config(args: list[str], cgroups_path: str, oci_version: str = SPEC_VERSION) -> dict[str, Any]:
    """A minimal valid Linux config.json (config.md, config-linux.md)."""
    return {
        "ociVersion": oci_version,
        "root": {"path": "rootfs", "readonly": False},
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": list(args),
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": list(DEFAULT_CAPS),
                "effective": list(DEFAULT_CAPS),
                "permitted": list(DEFAULT_CAPS),
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "hostname": "conformance",
        "mounts": copy.deepcopy(DEFAULT_MOUNTS),
        "linux": {
            "namespaces": [{"type": t} for t in DEFAULT_NAMESPACES],
            "cgroupsPath": cgroups_path,
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        },
    }


class Bundle:
    """A bundle directory: <dir>/config.json, <dir>/rootfs, plus a sibling
    stdio dir receiving the container's stdout/stderr."""

    def __init__(self, path: Path, config: dict[str, Any]) -> None:
        self.path = path
        self.rootfs = path / "rootfs"
        self.stdio = path.parent / "stdio"
        self.config = config
        self.id = path.parent.name

    @property
    def process(self) -> dict[str, Any]:
        proc: dict[str, Any] = self.config["process"]
        return proc

    @property
    def linux(self) -> dict[str, Any]:
        linux: dict[str, Any] = self.config["linux"]
        return linux

    def set_args(self, *args: str) -> None:
        self.process["args"] = list(args)

    def add_mount(self, destination: str, type_: str | None, source: str,
                  options: list[str] | None = None) -> dict[str, Any]:
        m: dict[str, Any] = {"destination": destination, "source": source}
        if type_ is not None:
            m["type"] = type_
        if options is not None:
            m["options"] = options
        self.config["mounts"].append(m)
        return m

    def set_namespaces(self, types: list[str]) -> None:
        self.linux["namespaces"] = [{"type": t} for t in types]

    def namespace(self, type_: str) -> dict[str, Any] | None:
        for ns in self.linux.get("namespaces", []):
            if ns.get("type") == type_:
                found: dict[str, Any] = ns
                return found
        return None

    def write(self) -> None:
        self.stdio.mkdir(parents=True, exist_ok=True)
        tmp = self.path / "config.json.tmp"
        tmp.write_text(json.dumps(self.config, indent=2))
        os.replace(tmp, self.path / "config.json")

    def stdout(self) -> str:
        try:
            return (self.stdio / "stdout").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stderr(self) -> str:
        try:
            return (self.stdio / "stderr").read_text(errors="replace")
        except FileNotFoundError:
            return ""
