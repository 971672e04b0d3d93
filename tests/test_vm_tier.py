"""The real cgroup v2 tier: boot Debian's kernel under qemu (TCG) into a pure
cgroup v2 hierarchy and run checks / the cgroup test suite inside it.

Never skipped because the VM cannot boot: a missing qemu/kernel is installed
(``ensure_packages``) and a boot failure or timeout is a test failure carrying
the qemu console tail.  Run just this tier with ``pytest -m vm``.
Timeouts can be raised with ``PYRUNC_VM_TIMEOUT`` (seconds, for the suite run).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE / "vm"))

import vmrun  # noqa: E402

pytestmark = [
    pytest.mark.vm,
    pytest.mark.skipif(os.environ.get("PYRUNC_IN_VM") == "1",
                       reason="already inside the test VM (no nested qemu)"),
]

SUITE_TIMEOUT = float(os.environ.get("PYRUNC_VM_TIMEOUT", "900"))
PER_TEST_TIMEOUT = float(os.environ.get("PYRUNC_VM_TEST_TIMEOUT", "180"))
CGROUP_TEST_GLOBS = ("tests/integration/test_cgroups_*.py", "tests/unit/test_cgroups_*.py")
REQUIRED_CONTROLLERS = ("cpu", "memory", "pids", "io", "cpuset")


@pytest.fixture(scope="module", autouse=True)
def vm_prerequisites() -> None:
    """Install qemu + the Debian kernel if missing; a failure here fails the tier."""
    vmrun.ensure_packages()


def _show(res: vmrun.VMResult) -> str:
    return (f"exit {res.returncode} (boot {res.boot_seconds:.1f}s, "
            f"total {res.total_seconds:.1f}s)\n----- output -----\n{res.output}")


def test_vm_is_pure_cgroup_v2_with_every_controller() -> None:
    script = (
        "echo fstype=$(stat -f -c %T /sys/fs/cgroup); "
        "echo controllers=$(cat /sys/fs/cgroup/cgroup.controllers); "
        "echo subtree=$(cat /sys/fs/cgroup/cgroup.subtree_control); "
        "echo v1=$(grep -c ' cgroup ' /proc/mounts); "
        "python3 -c 'import pydantic, jsonschema, cffi, click, prctl, pytest; "
        "print(\"imports=ok\", pydantic.VERSION)'"
    )
    res = vmrun.run_in_vm(["sh", "-c", script], timeout=300)
    assert res.returncode == 0, _show(res)
    fields = dict(line.split("=", 1) for line in res.output.splitlines() if "=" in line)
    assert fields.get("fstype") == "cgroup2fs", _show(res)
    assert fields.get("v1") == "0", "cgroup v1 hierarchies mounted in the VM\n" + _show(res)
    controllers = fields.get("controllers", "").split()
    subtree = fields.get("subtree", "").split()
    for c in REQUIRED_CONTROLLERS:
        assert c in controllers, f"controller {c} missing\n" + _show(res)
        assert c in subtree, f"controller {c} not enabled in subtree_control\n" + _show(res)
    assert fields.get("imports", "").startswith("ok"), _show(res)


def test_runc_container_in_vm_gets_memory_limit() -> None:
    res = vmrun.run_in_vm(["python3", "tests/vm/guest_smoke.py", "--runtime", "runc"],
                          timeout=300)
    assert res.returncode == 0, _show(res)
    line = next((ln for ln in res.output.splitlines() if ln.startswith("SMOKE-OK ")), None)
    assert line is not None, _show(res)
    result = json.loads(line[len("SMOKE-OK "):])
    assert result["memory.max"] == str(64 << 20)
    assert result["inside"] == f"inside-memory.max={64 << 20}"


def test_cgroup_suite_passes_in_vm() -> None:
    files = sorted(str(p.relative_to(REPO)) for g in CGROUP_TEST_GLOBS for p in REPO.glob(g))
    if not files:
        pytest.skip("no tests/{integration,unit}/test_cgroups_*.py written yet")
    # A test stuck inside the VM must not eat the whole VM timeout: dump every
    # thread's stack and exit after PER_TEST_TIMEOUT (pytest's faulthandler).
    cmd = ["python3", "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
           "-o", f"faulthandler_timeout={PER_TEST_TIMEOUT:.0f}",
           "-o", "faulthandler_exit_on_timeout=true", *files]
    res = vmrun.run_in_vm(cmd, timeout=SUITE_TIMEOUT)
    assert res.returncode == 0, "cgroup tests failed inside the v2 VM: " + _show(res)
    # Show the inner summary in -v / -rA reports.
    print(res.output.strip().splitlines()[-1] if res.output.strip() else "")
