"""checkpoint/restore with CRIU, proven in the VM tier.

The dev host's kernel makes `criu check` fail (vDSO), so these run inside
the qemu VM (tests/vm/vmrun.py: Debian's 6.1 kernel), where
tests/vm/guest_criu.py loads the sock_diag modules, brings `lo` up and runs
each scenario with runc and with pyrunc on the same busybox counter bundle:

* counter: run -d, checkpoint (the container is gone), restore -d; the count
  goes on from where it stopped; state/exec/kill/delete work on the restored
  container, its init sits in the config's cgroup with memory.max holding,
  its bind mount is mapped back;
* leave-running: checkpoint --leave-running keeps it running; the image
  restores under a new id;
* pre-dump: --pre-dump, then a dump with --parent-path, then restore;
* cross: an image dumped by runc restores under pyrunc, and the reverse;
* tty: terminal: true with --console-socket; checkpoint, restore with a new
  --console-socket: the receiver gets the new pty master (CRIU's
  orphan-pts-master) and the restored init still writes to and reads from
  its pty;
* tcp: a busybox nc server and client in one container keep a connection
  on loopback; checkpoint/restore --tcp-established; the server keeps
  receiving over the same connection.  pyrunc dumps the container's own
  netns; runc always empties it (CRIU empty_ns: "runc doesn't manage
  network devices", lo comes back down and the restore fails with
  "Network is unreachable"), so runc runs it in an external netns, whose
  CRIU network lock (iptables chain CRIU) the test removes after restore;
* bad-input (pyrunc): empty / corrupt image dir, an id that exists, a
  missing bundle: one error line, non-zero exit, nothing left behind.

One VM boot for the module.  Skipped only where the host lacks qemu or a
kernel image (the VM cannot exist); a boot failure is an error.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "vm"))

import vmrun  # noqa: E402

pytestmark = [
    pytest.mark.vm,
    pytest.mark.skipif(os.environ.get("PYRUNC_IN_VM") == "1", reason="already inside the test VM (no nested qemu)"),
]

TIMEOUT = float(os.environ.get("PYRUNC_VM_CRIU_TIMEOUT", "600"))
SCENARIOS = [f"{s}/{rt}" for s in ("counter", "leave-running", "pre-dump", "cross", "tty", "tcp") for rt in ("runc", "pyrunc")]
SCENARIOS.append("bad-input/pyrunc")


def _host_can_boot() -> str | None:
    if not shutil.which(vmrun.QEMU):
        return f"{vmrun.QEMU} not installed (package qemu-system-x86)"
    try:
        vmrun.find_kernel()
    except vmrun.VMError:
        return "no /boot/vmlinuz-* with modules (package linux-image-amd64)"
    return None


@pytest.fixture(scope="module")
def criu_vm() -> dict[str, str]:
    why = _host_can_boot()
    if why:
        pytest.skip(f"the VM tier cannot run here: {why}")
    if not shutil.which("criu"):
        pytest.fail("criu is not installed on the host (the guest runs the host's root): .ci/install adds it")
    res = vmrun.run_in_vm(["python3", "tests/vm/guest_criu.py"], timeout=TIMEOUT)
    print(f"CRIU VM: boot {res.boot_seconds:.1f}s, total {res.total_seconds:.1f}s")
    lines: dict[str, str] = {"_output": res.output}
    for line in res.output.splitlines():
        for tag in ("CRIU-OK ", "CRIU-FAIL ", "CRIU-PREP "):
            if line.startswith(tag):
                rest = line[len(tag):]
                name, _, detail = rest.partition(" ") if tag != "CRIU-PREP " else ("_prep", "", rest)
                lines[name] = tag.strip() + " " + detail
    return lines


def test_guest_criu_check_passes(criu_vm: dict[str, str]) -> None:
    prep = criu_vm.get("_prep", "")
    assert prep, criu_vm["_output"]
    info = json.loads(prep.split(" ", 1)[1])
    assert info["criu_check"] == "ok", info


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_checkpoint_restore_in_vm(criu_vm: dict[str, str], scenario: str) -> None:
    got = criu_vm.get(scenario)
    assert got is not None, f"{scenario} did not run\n{criu_vm['_output']}"
    assert got.startswith("CRIU-OK "), f"{scenario}: {got}"
    result = json.loads(got.split(" ", 1)[1])
    if "first_after_restore" in result:
        # the count continued from the checkpoint, not from 1
        assert result["first_after_restore"] > result["frozen_at"], result
    print(scenario, result)
