"""The real cgroup v2 tier: boot Debian's kernel under qemu (TCG) into a pure
cgroup v2 hierarchy and run checks / the cgroup test suite inside it.

One VM boot serves the whole module (booting costs 7-25 s on a loaded host):
a module fixture runs, inside a single VM, one "part" per selected test and
each test then judges its own part's exit code and output.

Never skipped because the VM cannot boot: a missing qemu/kernel is installed
(``ensure_packages``) and a boot failure or timeout is an error carrying the
qemu console tail.  Run just this tier with ``pytest -m vm``.  Tunables:
``PYRUNC_VM_TIMEOUT`` (seconds for the suite part, default 900) and
``PYRUNC_VM_TEST_TIMEOUT`` (per inner test, default 180).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import dataclass
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
BASE_TIMEOUT = 300.0  # boot + controllers + smoke, generous for a loaded host
CGROUP_TEST_GLOBS = ("tests/integration/test_cgroups_*.py", "tests/unit/test_cgroups_*.py")
REQUIRED_CONTROLLERS = ("cpu", "memory", "pids", "io", "cpuset")
SMOKE_MEMORY = 64 << 20

CONTROLLERS_SCRIPT = (
    "echo fstype=$(stat -f -c %T /sys/fs/cgroup); "
    "echo controllers=$(cat /sys/fs/cgroup/cgroup.controllers); "
    "echo subtree=$(cat /sys/fs/cgroup/cgroup.subtree_control); "
    "echo v1=$(grep -c ' cgroup ' /proc/mounts); "
    "python3 -c 'import pydantic, jsonschema, cffi, click, prctl, pytest; "
    "print(\"imports=ok\", pydantic.VERSION)'"
)


def cgroup_test_files() -> list[str]:
    return sorted(str(p.relative_to(REPO)) for g in CGROUP_TEST_GLOBS for p in REPO.glob(g))


def part_commands() -> dict[str, list[str]]:
    """Part name -> argv run inside the VM (cwd = repo root)."""
    return {
        "controllers": ["sh", "-c", CONTROLLERS_SCRIPT],
        "smoke": ["python3", "tests/vm/guest_smoke.py", "--runtime", "runc"],
        "smoke-pyrunc": ["python3", "tests/vm/guest_smoke.py", "--runtime", "python3 -m pyrunc"],
        # A stuck inner test must not eat the whole VM timeout: pytest's
        # faulthandler dumps every thread's stack and exits the run.
        "suite": ["python3", "-m", "pytest", "-x", "-q", "-rs", "-p", "no:cacheprovider",
                  "-o", f"faulthandler_timeout={PER_TEST_TIMEOUT:.0f}",
                  "-o", "faulthandler_exit_on_timeout=true", "--durations=10",
                  *cgroup_test_files()],
    }


# Which part each test of this module needs.
TEST_PARTS = {
    "test_vm_is_pure_cgroup_v2_with_every_controller": "controllers",
    "test_runc_container_in_vm_gets_memory_limit": "smoke",
    "test_pyrunc_container_in_vm_gets_memory_limit": "smoke-pyrunc",
    "test_cgroup_suite_passes_in_vm": "suite",
}


@dataclass
class Part:
    name: str
    returncode: int
    output: str

    def show(self) -> str:
        return f"part {self.name}: exit {self.returncode}\n----- output -----\n{self.output}"


class TierRun:
    def __init__(self, res: vmrun.VMResult, names: list[str]) -> None:
        self.res = res
        self.names = names

    def part(self, name: str) -> Part:
        rc = self.res.files.get(f"{name}.rc", "").strip()
        out = self.res.files.get(f"{name}.out", "")
        if not rc.isdigit():
            raise AssertionError(
                f"part {name} did not finish in the VM (exit {self.res.returncode})\n"
                + "\n".join(self.res.console.splitlines()[-60:]))
        return Part(name, int(rc), out)


def _driver(parts: dict[str, list[str]]) -> str:
    lines = [
        'part() { n=$1; shift; echo "=== part $n"; '
        '( "$@" < /dev/null 2>&1; echo $? > "$PYRUNC_VM_OUT/$n.rc" ) '
        '| tee "$PYRUNC_VM_OUT/$n.out"; '
        'echo "=== part $n exit $(cat "$PYRUNC_VM_OUT/$n.rc")"; }',
    ]
    lines += ["part " + shlex.join([name, *argv]) for name, argv in parts.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def vm_tier(request: pytest.FixtureRequest) -> TierRun:
    """Boot the VM once and run the parts the selected tests need."""
    vmrun.ensure_packages()
    selected = {item.name for item in request.session.items
                if item.module is request.module}
    wanted = [TEST_PARTS[n] for n in TEST_PARTS if n in selected]
    commands = part_commands()
    if not cgroup_test_files() and "suite" in wanted:
        wanted.remove("suite")
    parts = {name: commands[name] for name in wanted}
    timeout = BASE_TIMEOUT + (SUITE_TIMEOUT if "suite" in parts else 0)
    res = vmrun.run_in_vm(["sh", "-c", _driver(parts)], timeout=timeout)
    print(f"VM tier: boot {res.boot_seconds:.1f}s, total {res.total_seconds:.1f}s, "
          f"parts {', '.join(parts) or '-'}")
    return TierRun(res, list(parts))


def test_vm_is_pure_cgroup_v2_with_every_controller(vm_tier: TierRun) -> None:
    part = vm_tier.part("controllers")
    assert part.returncode == 0, part.show()
    fields = dict(line.split("=", 1) for line in part.output.splitlines() if "=" in line)
    assert fields.get("fstype") == "cgroup2fs", part.show()
    assert fields.get("v1") == "0", "cgroup v1 hierarchies mounted in the VM\n" + part.show()
    controllers = fields.get("controllers", "").split()
    subtree = fields.get("subtree", "").split()
    for c in REQUIRED_CONTROLLERS:
        assert c in controllers, f"controller {c} missing\n" + part.show()
        assert c in subtree, f"controller {c} not enabled in subtree_control\n" + part.show()
    # The host's Python packages (pyenv site-packages) import inside the VM.
    assert fields.get("imports", "").startswith("ok"), part.show()


def test_pyrunc_container_in_vm_gets_memory_limit(vm_tier: TierRun) -> None:
    """The same smoke as runc's, with pyrunc on a pure cgroup v2 kernel."""
    _check_smoke(vm_tier.part("smoke-pyrunc"))


def test_runc_container_in_vm_gets_memory_limit(vm_tier: TierRun) -> None:
    _check_smoke(vm_tier.part("smoke"))


def _check_smoke(part: Part) -> None:
    assert part.returncode == 0, part.show()
    line = next((ln for ln in part.output.splitlines() if ln.startswith("SMOKE-OK ")), None)
    assert line is not None, part.show()
    result = json.loads(line[len("SMOKE-OK "):])
    assert result["memory.max"] == str(SMOKE_MEMORY), part.show()
    assert result["inside"] == f"inside-memory.max={SMOKE_MEMORY}", part.show()


def test_cgroup_suite_passes_in_vm(vm_tier: TierRun) -> None:
    if "suite" not in vm_tier.names:
        pytest.skip("no tests/{integration,unit}/test_cgroups_*.py written yet")
    part = vm_tier.part("suite")
    assert part.returncode == 0, "cgroup tests failed inside the v2 VM: " + part.show()
    print(part.output)  # slowest inner tests, shown with -rA
