"""Linux security modules: `process.apparmorProfile`, `process.selinuxLabel`
and `linux.mountLabel`.

Where the LSM is enabled the labels are applied like runc does: the profile
or label is written to the process's `attr/exec` file right before execve
(an on-exec transition; the C init does the write, see OP_LSM_EXEC), and the
mount label becomes a `context="..."` option of the container's filesystem
mounts.  Where the LSM is not enabled runc fails the container (for AppArmor
when its init writes the profile, for SELinux in its config validation); so
does pyrunc, but before anything is created and with a message that says
why."""
from __future__ import annotations

import os
from collections import namedtuple

TYPE_CHECKING = False  # `typing` costs ~3 ms of every create; annotations are strings
if TYPE_CHECKING:
    from typing import Any

from pyrunc.errors import ConfigError

APPARMOR_ENABLED = "/sys/module/apparmor/parameters/enabled"
APPARMOR_FS = "/sys/kernel/security/apparmor"
SELINUX_FS = "/sys/fs/selinux"

# attr files, relative to /proc, tried in order (the LSM-specific one first:
# with several LSMs stacked the generic attr/exec belongs to the first one)
APPARMOR_EXEC_ATTR = ("thread-self/attr/apparmor/exec", "thread-self/attr/exec")
SELINUX_EXEC_ATTR = ("thread-self/attr/selinux/exec", "thread-self/attr/exec")

# Filesystems runc mounts without the SELinux context option (they either
# refuse it or get their label from policy).
_NO_CONTEXT_FSTYPES = frozenset({"proc", "sysfs", "mqueue", "cgroup", "cgroup2", "bind", "none", ""})


def apparmor_enabled() -> bool:
    """As runc's apparmor.IsEnabled: securityfs shows AppArmor and the
    module parameter says Y."""
    if not os.path.isdir(APPARMOR_FS):
        return False
    try:
        with open(APPARMOR_ENABLED, "rb") as f:
            return f.read(1) == b"Y"
    except OSError:
        return False


def selinux_enabled() -> bool:
    """selinuxfs is mounted (go-selinux's GetEnabled test, simplified)."""
    return os.path.isfile(os.path.join(SELINUX_FS, "enforce"))


# attrs: tuple[str, ...]  /proc-relative candidates, first that exists wins
# value: str
# field: str
class ExecLabel(namedtuple("ExecLabel", "attrs value field")):
    """One attr write the init does before execve."""

    __slots__ = ()


def _label(value: Any, field: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(field, "must be a string")
    if "\n" in value or "\0" in value:
        raise ConfigError(field, "must be one line")
    return value


def exec_labels(process: dict[str, Any], field: str = "process") -> list[ExecLabel]:
    """The attr writes for `process`; ConfigError when a label is set for an
    LSM this host does not run."""
    out: list[ExecLabel] = []
    profile = _label(process.get("apparmorProfile"), f"{field}.apparmorProfile")
    if profile is not None:
        if not apparmor_enabled():
            raise ConfigError(f"{field}.apparmorProfile",
                              f"apparmor profile {profile!r} is specified in config, but apparmor is not enabled "
                              f"on this host ({APPARMOR_ENABLED} is not Y)")
        out.append(ExecLabel(APPARMOR_EXEC_ATTR, f"exec {profile}", f"{field}.apparmorProfile"))
    label = _label(process.get("selinuxLabel"), f"{field}.selinuxLabel")
    if label is not None:
        if not selinux_enabled():
            raise ConfigError(f"{field}.selinuxLabel",
                              "selinux label is specified in config, but selinux is disabled or not supported")
        out.append(ExecLabel(SELINUX_EXEC_ATTR, label, f"{field}.selinuxLabel"))
    return out


def mount_label(linux: dict[str, Any], field: str = "linux.mountLabel") -> str | None:
    """`linux.mountLabel`, checked against the host."""
    label = _label(linux.get("mountLabel"), field)
    if label is not None and '"' in label:
        raise ConfigError(field, "must not contain '\"'")
    if label is not None and not selinux_enabled():
        # runc 1.2 (go-selinux) drops the label when SELinux is off; 1.1.5
        # passes context= and the /dev mount fails with EINVAL
        from pyrunc import log

        log.warn(f"{field} is ignored: selinux is disabled or not supported on this host")
        return None
    return label


def with_mount_label(data: str, fstype: str, label: str | None) -> str:
    """Mount data with the SELinux context option added, for the filesystem
    types runc labels that way."""
    if not label or fstype in _NO_CONTEXT_FSTYPES:
        return data
    opt = f'context="{label}"'
    return f"{data},{opt}" if data else opt
