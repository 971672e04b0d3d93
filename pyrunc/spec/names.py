"""Names the spec leaves to the kernel: capabilities, rlimits, namespace files,
sysctl classes.  Plain tables, no third-party imports."""
from __future__ import annotations

# One table for the whole runtime: the linux package owns capability and rlimit
# numbers (both modules import nothing heavy).
from pyrunc.linux.capabilities import CAPABILITIES, last_cap
from pyrunc.linux.process_attrs import RLIMITS

__all__ = ["CAPABILITIES", "IPC_SYSCTLS", "NAMESPACE_FILES", "RLIMITS", "last_cap"]

# config-linux.md namespace type -> /proc/<pid>/ns/<name>
NAMESPACE_FILES: dict[str, str] = {
    "pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc",
    "uts": "uts", "user": "user", "cgroup": "cgroup", "time": "time",
}  # fmt: skip

# sysctls that the IPC namespace isolates (besides fs.mqueue.*), as runc lists them.
IPC_SYSCTLS = frozenset(
    {
        "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
        "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
    }  # fmt: skip
)

