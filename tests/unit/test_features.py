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
    for refused in ("idmap", "ridmap"):
        assert refused not in opts
        assert parse_options([refused]).unsupported == [refused]
    # runc's extension, advertised as runc does
    assert "tmpcopyup" in opts and parse_options(["tmpcopyup"]).copyup


def test_namespaces_exist_on_this_kernel(doc: dict) -> None:
    nss = doc["linux"]["namespaces"]
    assert {"pid", "mount", "network", "ipc", "uts", "user", "cgroup"} <= set(nss)
    for ns in nss:
        _flag, proc = NAMESPACES[ns]
        with open(f"/proc/self/ns/{proc}", "rb"):
            pass


def test_capabilities_match_kernel(doc: dict) -> None:
    caps = doc["linux"]["capabilities"]
    last = int(open("/proc/sys/kernel/cap_last_cap").read())
    assert "CAP_SYS_ADMIN" in caps and "CAP_CHOWN" in caps
    assert len(caps) == min(last + 1, len(caps)) and len(caps) >= 38


def test_linux_sections_honest(doc: dict) -> None:
    lx = doc["linux"]
    assert lx["cgroup"]["systemd"] is True  # pyrunc.cgroups.systemd
    assert lx["cgroup"]["systemdUser"] is False  # rootless under systemd: not yet
    assert lx["apparmor"] == {"enabled": False}
    assert lx["selinux"] == {"enabled": False}
    assert lx["mountExtensions"]["idmap"]["enabled"] is False
    sc = lx["seccomp"]
    assert sc["enabled"] is True
    assert "SCMP_ACT_ERRNO" in sc["actions"] and "SCMP_ARCH_X86_64" in sc["archs"]
    assert set(sc["supportedFlags"]) <= set(sc["knownFlags"])
    assert doc["annotations"]["io.github.seccomp.libseccomp.version"].count(".") == 2
