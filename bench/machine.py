"""A description of the machine a run was measured on."""
from __future__ import annotations

import os
import platform
import time


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total() -> str:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def cgroup_mode() -> str:
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return "v2"
    if os.path.isdir("/sys/fs/cgroup/unified"):
        return "hybrid"
    return "v1"


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def loadavg() -> str:
    """1, 5 and 15 minute load averages: other work on the machine skews the figures."""
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def describe() -> dict[str, str]:
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "os": _os_name(),
        "kernel": os.uname().release,
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": _cpu_model(),
        "memory": _mem_total(),
        "cgroups": cgroup_mode(),
        "python": platform.python_version(),
        "load_at_start": loadavg(),
    }


def one_line(info: dict[str, str]) -> str:
    return (f"{info['os']}, kernel {info['kernel']}, {info['nproc']} CPUs ({info['cpu']}), "
            f"{info['memory']} RAM, cgroups {info['cgroups']}, Python {info['python']}, {info['date']}")
