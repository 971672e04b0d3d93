"""`pyrunc features`: a valid runtime-spec features document that advertises
only what the create path accepts."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pyrunc.linux.mounts import parse_options
from pyrunc.linux.namespaces import NAMESPACES
from tests.unit.spec_oracles import model_ok, official_validator


@pytest.fixture(scope="module")
def doc() -> dict:
    out = subprocess.run([sys.executable, "-m", "pyrunc", "features"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def test_valid_against_official_schema(doc: dict) -> None:
    errors = [e.message for e in official_validator("features").iter_errors(doc)]
    assert errors == []
    assert model_ok("features", doc)


def test_versions(doc: dict) -> None:
    assert doc["ociVersionMin"] == "1.0.0"
    assert doc["ociVersionMax"] == "1.3.0"


def test_mount_options_are_all_accepted(doc: dict) -> None:
    opts = doc["mountOptions"]
    assert {"ro", "rbind", "rprivate", "rro", "nosymfollow"} <= set(opts)
    for opt in opts:
        mo = parse_options([opt])
        assert mo.unsupported == [], opt
        assert mo.data == [], f"{opt} would be passed as filesystem data"
    # idmapped mounts (runtime-spec 1.2): options of pyrunc's, never mount(2) data
    assert {"idmap", "ridmap"} <= set(opts)
    assert parse_options(["idmap"]).idmap and not parse_options(["idmap"]).ridmap
    assert parse_options(["ridmap"]).ridmap
    # runc's extension, advertised as runc does
    assert "tmpcopyup" in opts and parse_options(["tmpcopyup"]).copyup


def test_namespaces_are_every_one_pyrunc_knows(doc: dict) -> None:
    """features-linux.md: "including namespaces that might not be supported
    by the host" (runc's KnownNamespaces): not filtered by this kernel."""
    assert doc["linux"]["namespaces"] == list(NAMESPACES)
    assert {"pid", "mount", "network", "ipc", "uts", "user", "cgroup", "time"} <= set(NAMESPACES)


def test_capabilities_are_every_one_pyrunc_knows(doc: dict) -> None:
    """Every capability pyrunc recognises, in number order, even past this
    kernel's cap_last_cap (the spec's rule; runc's KnownCapabilities)."""
    from pyrunc.linux.capabilities import CAPABILITIES

    caps = doc["linux"]["capabilities"]
    assert caps == sorted(CAPABILITIES, key=CAPABILITIES.__getitem__)
    assert {"CAP_SYS_ADMIN", "CAP_CHOWN", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"} <= set(caps)


def test_memory_policy_block(doc: dict) -> None:
    """runc 1.3's memoryPolicy: the modes and flags linux.memoryPolicy takes."""
    from pyrunc.linux.process_attrs import MPOL_FLAGS, MPOL_MODES

    mp = doc["linux"]["memoryPolicy"]
    assert set(mp["modes"]) == set(MPOL_MODES) and "MPOL_BIND" in mp["modes"]
    assert set(mp["flags"]) == set(MPOL_FLAGS) and "MPOL_F_STATIC_NODES" in mp["flags"]


def test_potentially_unsafe_annotations(doc: dict) -> None:
    """The annotations pyrunc acts on outside the container (runc lists
    bundle, org.systemd.property. and org.criu.config; pyrunc reads only
    org.criu.config)."""
    assert doc["potentiallyUnsafeConfigAnnotations"] == ["org.criu.config"]


def test_idmap_flag_follows_the_mount_code(doc: dict, monkeypatch) -> None:
    from pyrunc import features
    from pyrunc.linux import mounts

    assert doc["linux"]["mountExtensions"]["idmap"]["enabled"] is bool(getattr(mounts, "IDMAP_MOUNTS", False))
    monkeypatch.setattr(mounts, "IDMAP_MOUNTS", True, raising=False)
    assert features.features()["linux"]["mountExtensions"]["idmap"]["enabled"] is True


def test_linux_sections_honest(doc: dict) -> None:
    lx = doc["linux"]
    assert lx["cgroup"]["systemd"] is True  # pyrunc.cgroups.systemd
    assert lx["cgroup"]["systemdUser"] is False  # rootless under systemd: not yet
    assert lx["apparmor"] == {"enabled": False}
    assert lx["selinux"] == {"enabled": False}
    assert lx["mountExtensions"]["idmap"]["enabled"] is True  # pyrunc.linux.mounts.IDMAP_MOUNTS
    sc = lx["seccomp"]
    assert sc["enabled"] is True
    assert "SCMP_ACT_ERRNO" in sc["actions"] and "SCMP_ARCH_X86_64" in sc["archs"]
    assert set(sc["supportedFlags"]) <= set(sc["knownFlags"])
    assert doc["annotations"]["io.github.seccomp.libseccomp.version"].count(".") == 2
