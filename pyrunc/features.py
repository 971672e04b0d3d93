"""The runtime-spec features document (features.md): what this pyrunc, on this
host, really implements.  Every list is built from the tables the create path
uses, so a feature is advertised only when a config asking for it works."""
from __future__ import annotations

import os
from typing import Any

from pyrunc import SPEC_VERSION, __version__

OCI_VERSION_MIN = "1.0.0"

# Every hook kind the create/start/delete paths run (create.py, plan.py,
# container.py).
HOOKS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]


def mount_options() -> list[str]:
    """Every option parse_options() understands (runc's tmpcopyup too); the
    ones it refuses (idmap, ridmap) are left out."""
    from pyrunc.linux.mounts import EXTENSIONS, FLAGS, PROPAGATION, RECURSIVE_ATTRS

    return sorted(set(FLAGS) | set(PROPAGATION) | set(RECURSIVE_ATTRS) | EXTENSIONS)


def namespaces() -> list[str]:
    """Namespace types pyrunc can create or join that this kernel has."""
    from pyrunc.linux.namespaces import NAMESPACES

    return [t for t, (_flag, proc) in NAMESPACES.items() if os.path.exists(f"/proc/self/ns/{proc}")]


def capabilities() -> list[str]:
    """Capability names known to both pyrunc and the running kernel."""
    from pyrunc.linux.capabilities import CAPABILITIES, last_cap

    top = last_cap()
    return [name for name, num in sorted(CAPABILITIES.items(), key=lambda kv: kv[1]) if num <= top]


def cgroup_features() -> dict[str, bool]:
    """cgroupfs drivers for v1, v2 and hybrid hosts (pyrunc.cgroups) and the
    systemd driver (pyrunc.cgroups.systemd; not for rootless containers:
    no systemdUser).  rdma limits are written by both managers."""
    return {"v1": True, "v2": True, "systemd": True, "systemdUser": False, "rdma": True}


def seccomp() -> dict[str, Any]:
    try:
        from pyrunc.linux.seccomp import seccomp_features
    except ImportError:
        return {"enabled": False}
    return seccomp_features()


def annotations() -> dict[str, str]:
    out = {"org.opencontainers.pyrunc.version": __version__}
    try:
        from pyrunc.linux.seccomp import libseccomp_version

        out["io.github.seccomp.libseccomp.version"] = libseccomp_version()
    except Exception:  # no libseccomp: seccomp.enabled says so already
        pass
    # runc's annotation, but only where CRIU really works here (`criu check`
    # through its RPC); else why not, so `features` says what is missing.
    from pyrunc.checkpoint import check

    why = check()
    out["org.opencontainers.pyrunc.checkpoint.enabled"] = "false" if why else "true"
    if why:
        out["org.opencontainers.pyrunc.checkpoint.reason"] = why
    return out


def features() -> dict[str, Any]:
    return {
        "ociVersionMin": OCI_VERSION_MIN,
        "ociVersionMax": SPEC_VERSION,
        "hooks": list(HOOKS),
        "mountOptions": mount_options(),
        "linux": {
            "namespaces": namespaces(),
            "capabilities": capabilities(),
            "cgroup": cgroup_features(),
            "seccomp": seccomp(),
            "apparmor": {"enabled": _lsm_enabled("apparmor")},
            "selinux": {"enabled": _lsm_enabled("selinux")},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": False}},
            "netDevices": {"enabled": True},  # pyrunc.linux.netlink
        },
        "annotations": annotations(),
        "potentiallyUnsafeConfigAnnotations": [],
    }


def _lsm_enabled(name: str) -> bool:
    from pyrunc import lsm

    return lsm.apparmor_enabled() if name == "apparmor" else lsm.selinux_enabled()
