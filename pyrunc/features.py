"""The runtime-spec features document (features.md): what this pyrunc really
implements.  Every list is built from the tables the create path uses, so a
feature is advertised only when pyrunc recognises a config asking for it.
The lists of namespaces and capabilities are everything pyrunc knows, not
filtered by this host's kernel (features-linux.md says so, as runc does)."""
from __future__ import annotations

from typing import Any

from pyrunc import SPEC_VERSION, __version__

OCI_VERSION_MIN = "1.0.0"

# Every hook kind the create/start/delete paths run (create.py, plan.py,
# container.py).
HOOKS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]


def mount_options() -> list[str]:
    """Every option parse_options() understands (runc's tmpcopyup, and
    idmap/ridmap: idmapped bind mounts)."""
    from pyrunc.linux.mounts import EXTENSIONS, FLAGS, IDMAP_OPTIONS, PROPAGATION, RECURSIVE_ATTRS

    return sorted(set(FLAGS) | set(PROPAGATION) | set(RECURSIVE_ATTRS) | EXTENSIONS | IDMAP_OPTIONS)


def namespaces() -> list[str]:
    """Every namespace type pyrunc recognises in linux.namespaces, including
    ones this kernel may lack (features-linux.md: "including namespaces that
    might not be supported by the host operating system"; runc's
    KnownNamespaces)."""
    from pyrunc.linux.namespaces import NAMESPACES

    return list(NAMESPACES)


def capabilities() -> list[str]:
    """Every capability name pyrunc recognises, in number order, including
    ones the running kernel may lack (the spec's rule; runc's
    KnownCapabilities)."""
    from pyrunc.linux.capabilities import CAPABILITIES

    return [name for name, _num in sorted(CAPABILITIES.items(), key=lambda kv: kv[1])]


def memory_policy() -> dict[str, list[str]]:
    """linux.memoryPolicy: the modes and flags set_mempolicy is given
    (pyrunc.linux.process_attrs; runc's KnownMemoryPolicyModes/Flags)."""
    from pyrunc.linux.process_attrs import MPOL_FLAGS, MPOL_MODES

    return {"modes": sorted(MPOL_MODES, key=MPOL_MODES.__getitem__),
            "flags": sorted(MPOL_FLAGS, key=MPOL_FLAGS.__getitem__)}


# Annotations pyrunc reads from config.json that change what it does outside
# the container, so an engine should not pass them from an untrusted image
# (runc's list; a trailing "." is a prefix).  Add one here when pyrunc starts
# honouring a new annotation.
POTENTIALLY_UNSAFE_ANNOTATIONS = [
    "org.criu.config",  # pyrunc.checkpoint: the CRIU configuration file it reads
]


def idmap_mounts() -> bool:
    """mountExtensions.idmap: true once the create path takes a mount's
    uidMappings/gidMappings (the spec: even a partial implementation says
    true).  Read from the mount code itself, so whoever lands idmapped
    mounts there flips this without touching features.py: set
    `pyrunc.linux.mounts.IDMAP_MOUNTS = True`."""
    from pyrunc.linux import mounts

    return bool(getattr(mounts, "IDMAP_MOUNTS", False))


def net_devices() -> bool:
    """linux.netDevices: true when pyrunc.linux.netlink (moving host
    interfaces into the container) is present."""
    import importlib.util

    return importlib.util.find_spec("pyrunc.linux.netlink") is not None


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
            "mountExtensions": {"idmap": {"enabled": idmap_mounts()}},
            "netDevices": {"enabled": net_devices()},
            "memoryPolicy": memory_policy(),
        },
        "annotations": annotations(),
        "potentiallyUnsafeConfigAnnotations": list(POTENTIALLY_UNSAFE_ANNOTATIONS),
    }


def _lsm_enabled(name: str) -> bool:
    from pyrunc import lsm

    return lsm.apparmor_enabled() if name == "apparmor" else lsm.selinux_enabled()
