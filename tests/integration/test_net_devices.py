"""linux.netDevices (runtime-spec 1.3.0, config-linux.md "Network Devices")
on real containers, with a veth pair made by the test (this kernel has no
dummy driver).  The tests use `ip`; pyrunc itself talks rtnetlink
(pyrunc.linux.netlink).

Debian's runc 1.1.5 has no netDevices (it ignores the field: the last test
shows it), so pyrunc is checked against the spec:
- the named host interface is moved into the container's network namespace,
  renamed when `name` is given (`%d` lets the kernel pick a free one), with
  its permanent global addresses, and set up; it is gone from the host
  while the container runs;
- at delete the runtime MUST NOT move it out (runc 1.3 does not either):
  the namespace goes and the kernel destroys a virtual device (a veth, and
  with it its host peer; a physical one would come back to the host), and
  a device in a joined namespace stays there with that namespace's owner;
- bad input (no such device, a name taken, no network namespace of its own)
  is one line naming the field, nothing is left behind, and the interface
  stays on the host with its address; a create that fails after the move
  puts the device back."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid

import pytest

from tests.conftest import new_id
from tests.integration.test_bad_input import assert_clean_failure

pytestmark = pytest.mark.skipif(shutil.which("ip") is None, reason="the tests make veth pairs with iproute2's ip")

ADDR4, ADDR6 = "192.0.2.10/24", "2001:db8::10/64"  # documentation ranges: never routed anywhere


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def exists(dev: str) -> bool:
    return ip("link", "show", "dev", dev, check=False).returncode == 0


def host_addrs(dev: str) -> str:
    return ip("-o", "addr", "show", "dev", dev).stdout


def is_up(dev: str) -> bool:
    return "UP" in ip("-o", "link", "show", "dev", dev).stdout.split(">")[0]


def wait_gone(dev: str) -> bool:
    """The kernel frees a namespace (and destroys its veths) asynchronously."""
    for _ in range(500):
        if not exists(dev):
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def veth():
    """A veth pair (host end up, with an IPv4 and an IPv6 address); removed afterwards."""
    tag = uuid.uuid4().hex[:8]
    dev, peer = f"pv{tag}", f"pp{tag}"
    ip("link", "add", dev, "type", "veth", "peer", "name", peer)
    try:
        ip("addr", "add", ADDR4, "dev", dev)
        ip("-6", "addr", "add", ADDR6, "dev", dev, "nodad")
        ip("link", "set", dev, "up")
        yield dev
    finally:
        for d in (dev, peer):
            if exists(d):
                ip("link", "del", d, check=False)


@pytest.fixture
def netns():
    name = f"pyrunc-t{uuid.uuid4().hex[:8]}"
    ip("netns", "add", name)
    try:
        yield name
    finally:
        ip("netns", "del", name, check=False)


def bundle_with(make_bundle, devices: dict, args: list[str] | None = None, netns_path: str | None = None,
                edit=None):
    def ed(c):
        c["linux"]["netDevices"] = devices
        if netns_path:
            for n in c["linux"]["namespaces"]:
                if n["type"] == "network":
                    n["path"] = netns_path
        if edit:
            edit(c)

    return make_bundle(args or ["sleep", "1000"], edit=ed)


def test_moved_renamed_with_addresses_up_and_destroyed_with_the_namespace(pyrunc, make_bundle, veth):
    peer = "pp" + veth[2:]
    b = bundle_with(make_bundle, {veth: {"name": "ctr0"}})
    cid = new_id("nd")
    p = pyrunc("create", "-b", str(b.path), cid)
    assert p.returncode == 0, p.stderr
    assert not exists(veth), "the device is still on the host"
    inside = pyrunc("exec", cid, "ip", "-o", "addr", "show", "dev", "ctr0")
    assert inside.returncode == 0, inside.stderr
    assert f"inet {ADDR4}" in inside.stdout and f"inet6 {ADDR6}" in inside.stdout
    flags = pyrunc("exec", cid, "cat", "/sys/class/net/ctr0/flags").stdout.strip()
    assert int(flags, 16) & 1, f"ctr0 is not up: flags {flags}"
    assert pyrunc("exec", cid, "ls", "/sys/class/net").stdout.split() == ["ctr0", "lo"]
    assert pyrunc("start", cid).returncode == 0
    assert pyrunc("delete", "--force", cid).returncode == 0
    # not moved back (runtime-spec: MUST NOT); the veth dies with the
    # namespace, and its host peer with it
    assert wait_gone(peer), "the veth's host end outlived the container's namespace"
    assert not exists(veth)


def test_without_name_keeps_the_host_name_and_template_names(pyrunc, make_bundle, veth):
    b = bundle_with(make_bundle, {veth: {}}, ["ip", "-o", "link", "show", "dev", veth])
    p = pyrunc("run", "-b", str(b.path), new_id("nd"))
    assert p.returncode == 0, p.stderr
    assert f": {veth}@" in p.stdout


def test_name_template_lets_the_kernel_pick(pyrunc, make_bundle, veth):
    b = bundle_with(make_bundle, {veth: {"name": "eth%d"}}, ["ls", "/sys/class/net"])
    p = pyrunc("run", "-b", str(b.path), new_id("nd"))
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["eth0", "lo"]


def test_joined_namespace_keeps_the_device_after_delete(pyrunc, make_bundle, veth, netns):
    b = bundle_with(make_bundle, {veth: {"name": "ctr0"}}, ["true"], netns_path=f"/run/netns/{netns}")
    p = pyrunc("run", "-b", str(b.path), new_id("nd"))
    assert p.returncode == 0, p.stderr
    seen = ip("-n", netns, "-o", "addr", "show", "dev", "ctr0")
    assert f"inet {ADDR4}" in seen.stdout
    assert not exists(veth)


def _on_host_as_before(dev: str) -> None:
    assert exists(dev), "the device left the host"
    assert ADDR4 in host_addrs(dev) and ADDR6 in host_addrs(dev)
    assert is_up(dev)


def _no_network_ns(c):
    c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]


BAD = {
    "no such device": (lambda dev: {"pyrunc-nosuch0": {}}, None, "linux.netDevices.pyrunc-nosuch0"),
    "name taken in the container": (lambda dev: {dev: {"name": "lo"}}, None, f"linux.netDevices.{{dev}}.name"),
    "two devices, one name": (lambda dev: {dev: {"name": "x0"}, "pp" + dev[2:]: {"name": "x0"}}, None,
                              "is also to be named x0"),
    "no network namespace": (lambda dev: {dev: {}}, _no_network_ns, "linux.netDevices: needs a network namespace"),
    "the runtime's own namespace": (lambda dev: {dev: {}}, "host", "other than the runtime's own"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_and_the_device_stays(pyrunc, make_bundle, veth, case):
    devices, edit, phrase = BAD[case]
    path = f"/proc/{os.getpid()}/ns/net" if edit == "host" else None
    b = bundle_with(make_bundle, devices(veth), ["true"], netns_path=path, edit=None if edit == "host" else edit)
    cid = new_id("nd")
    p = pyrunc("run", "-b", str(b.path), cid)
    assert_clean_failure(pyrunc, p, cid, b.path, phrase.format(dev=veth))
    _on_host_as_before(veth)


def test_failed_create_after_the_move_puts_the_device_back(pyrunc, make_bundle, veth):
    def edit(c):
        c["hooks"] = {"prestart": [{"path": "/bin/false"}]}

    b = bundle_with(make_bundle, {veth: {"name": "ctr0"}}, ["true"], edit=edit)
    cid = new_id("nd")
    p = pyrunc("run", "-b", str(b.path), cid)
    assert_clean_failure(pyrunc, p, cid, b.path, "prestart hook /bin/false")
    _on_host_as_before(veth)


def test_rootless_is_refused(pyrunc, make_bundle, veth):
    b = bundle_with(make_bundle, {veth: {}}, ["true"])
    cid = new_id("nd")
    p = pyrunc("--rootless", "true", "run", "-b", str(b.path), cid)
    assert p.returncode != 0 and "linux.netDevices: not supported for rootless containers" in p.stderr
    _on_host_as_before(veth)


def test_features_advertise_net_devices(pyrunc):
    p = pyrunc("features", check=True)
    assert json.loads(p.stdout)["linux"]["netDevices"] == {"enabled": True}


def test_runc_1_1_ignores_net_devices(runc, make_bundle, veth):
    """Why there is no side-by-side run: Debian's runc 1.1.5 predates the
    field and runs the container without moving anything."""
    b = bundle_with(make_bundle, {veth: {"name": "ctr0"}}, ["ls", "/sys/class/net"])
    p = runc("run", "-b", str(b.path), new_id("nd"))
    if p.returncode != 0 or "ctr0" in p.stdout:
        pytest.skip(f"this runc knows netDevices: compare with it instead ({p.stdout.split()})")
    assert p.stdout.split() == ["lo"]
    _on_host_as_before(veth)
