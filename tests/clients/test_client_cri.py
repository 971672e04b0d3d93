"""Kubernetes' side: pods through containerd's CRI plugin (tests/clients/cri.py),
each step on both runtime handlers, `runc` (Debian's runc) and `pyrunc`,
through the same containerd, and compared.

No kubelet runs here: the tests speak CRI (gRPC) themselves, the way the
kubelet does. The host lacks CAP_SYS_RESOURCE, so the CRI plugin runs with
`restrict_oom_score_adj = true` (the pause container's -998 is clamped)."""
from __future__ import annotations

import json
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.clients.conftest import require
from tests.clients.cri import HANDLERS, POD_SUBNET, Cri, missing_prerequisites
from tests.clients.harness import Sandbox, cgroup_mounts, wait_for

BOTH = pytest.mark.parametrize("handler", HANDLERS)
SLEEP = ["sleep", "100000"]


def pyrunc_xfail(reason: str) -> pytest.MarkDecorator:
    """Both handlers; pyrunc's case is a strict xfail while the runc-parity
    item named in `reason` is open (it fails loudly once fixed)."""
    return pytest.mark.parametrize("handler", [
        "runc", pytest.param("pyrunc", marks=pytest.mark.xfail(strict=True, reason=reason))])


@pytest.fixture(scope="module")
def cri():
    require("containerd", "ctr", "containerd-shim-runc-v2", "runc", "gcc", "ip", "nsenter")
    why = missing_prerequisites()
    if why:
        pytest.skip(why)
    sb = Sandbox("cri")
    c = None
    try:
        c = Cri(sb)
        yield c
    finally:
        left = c.close() if c is not None else sb.close()
        assert left == [], f"left behind: {left}"


@pytest.fixture
def pods(cri):
    """Pods made by a test; stopped and removed afterwards, even on failure."""
    made: list[str] = []
    yield made
    errors = []
    for pod in made:
        try:
            cri.remove_pod(pod)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(f"{pod[:12]}: {e}")
    assert not errors, errors


def run_pod(cri: Cri, pods: list[str], handler: str, name: str, **kw):
    cfg = cri.pod_config(name, **kw)
    pod = cri.run_pod(handler, cfg)
    pods.append(pod)
    return pod, cfg


def used_pyrunc(cri: Cri, ident: str) -> bool:
    return any(ident in line for line in cri.sb.argv_lines())


@BOTH
def test_pod_sandbox_status(cri, pods, handler):
    pb = cri.pb
    pod, cfg = run_pod(cri, pods, handler, f"status-{handler}", hostname=f"host-{handler}",
                       labels={"app": "status", "handler": handler})
    st = cri.pod_status(pod).status
    assert st.state == pb.SANDBOX_READY
    assert st.metadata.name == f"status-{handler}"
    assert dict(st.labels) == {"app": "status", "handler": handler}
    assert st.network.ip.startswith(POD_SUBNET + ".")
    assert cri.handler_of(pod) == handler
    assert used_pyrunc(cri, pod) == (handler == "pyrunc")
    c = cri.create(pod, cfg, cri.container_config("main", SLEEP))
    assert cri.sh(c, "hostname").strip() == f"host-{handler}"
    resolv = cri.sh(c, "cat /etc/resolv.conf")
    assert "nameserver 10.77.0.1" in resolv and "search pyrunc.test" in resolv and "options ndots:2" in resolv
    assert f"{st.network.ip}/24" in cri.sh(c, "ip -4 addr show eth0")
    assert "127.0.0.1" in cri.sh(c, "ip -4 addr show lo")
    # the pod's cgroup parent holds the pause container and the container
    parent = cfg.linux.cgroup_parent
    info = json.loads(cri.pod_status(pod, verbose=True).info["info"])
    pause_cg = Path(f"/proc/{info['pid']}/cgroup").read_text()
    assert f":memory:{parent}/{pod}\n" in pause_cg
    assert cri.cgroup_path(c) == f"{parent}/{c}"
    assert f"{parent}/{c}" in cri.sh(c, "cat /proc/self/cgroup")


SEEN: dict[str, dict[str, object]] = {}


def same(key: str, handler: str, value: object) -> None:
    """Record what `handler` saw for `key`; once both handlers have, they
    must agree (the runc case runs first)."""
    seen = SEEN.setdefault(key, {})
    seen[handler] = value
    if len(seen) == len(HANDLERS):
        assert seen["pyrunc"] == seen["runc"], f"{key}: runc saw {seen['runc']!r}, pyrunc {seen['pyrunc']!r}"


def ns_links(cri: Cri, cid: str) -> dict[str, str]:
    out = cri.sh(cid, "for n in net ipc uts pid mnt; do echo $n $(readlink /proc/self/ns/$n); done")
    return dict(line.split(" ", 1) for line in out.splitlines())


def procs(cri: Cri, cid: str) -> list[tuple[int, str, str, int]]:
    """(pid, comm, state, ppid) of every process the container sees."""
    out = cri.sh(cid, "cat /proc/[0-9]*/stat 2>/dev/null; true")
    rows = []
    for line in out.splitlines():
        m = re.match(r"(\d+) \((.*)\) (\S) (\d+)", line)
        if m:
            rows.append((int(m[1]), m[2], m[3], int(m[4])))
    return rows


@BOTH
def test_containers_share_pod_namespaces_pid_pod(cri, pods, handler):
    pb = cri.pb
    pod, cfg = run_pod(cri, pods, handler, f"share-{handler}", pid=pb.POD)
    a = cri.create(pod, cfg, cri.container_config("a", SLEEP, pid=pb.POD))
    b = cri.create(pod, cfg, cri.container_config("b", ["sleep", "100001"], pid=pb.POD))
    na, nb = ns_links(cri, a), ns_links(cri, b)
    for n in ("net", "ipc", "uts", "pid"):
        assert na[n] == nb[n], n
    assert na["mnt"] != nb["mnt"]
    assert cri.sh(a, "hostname") == cri.sh(b, "hostname")
    # one pid namespace: pause is pid 1, each sees the other's sleep
    seen = {comm for _pid, comm, _st, _pp in procs(cri, a)}
    assert {"pause", "sleep"} <= seen
    assert [comm for pid, comm, _s, _p in procs(cri, b) if pid == 1] == ["pause"]
    assert "100001" in cri.sh(a, "cat /proc/[0-9]*/cmdline | tr '\\0' ' '")
    # an orphan of `a` is reparented to pause; stopping `a` kills it (kill
    # --all: a shared pid namespace) and pause reaps it
    c = cri.create(pod, cfg, cri.container_config(
        "orphaner", ["sh", "-c", "(sleep 100002 &); trap 'exit 0' TERM; while :; do sleep 0.1; done"], pid=pb.POD))
    wait_for(lambda: "100002" in cri.sh(b, "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"), what="orphan running")
    orphan = [p for p in procs(cri, b) if p[1] == "sleep" and p[3] == 1]
    assert orphan, procs(cri, b)
    cri.stop_container(c, timeout=10)
    assert cri.wait_exited(c).exit_code == 0
    wait_for(lambda: "100002" not in cri.sh(b, "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"), what="orphan killed")
    wait_for(lambda: not [p for p in procs(cri, b) if p[2] == "Z"], what="zombies reaped")


@BOTH
def test_pid_namespace_per_container(cri, pods, handler):
    pb = cri.pb
    pod, cfg = run_pod(cri, pods, handler, f"pidc-{handler}", pid=pb.CONTAINER)
    a = cri.create(pod, cfg, cri.container_config("a", SLEEP, pid=pb.CONTAINER))
    b = cri.create(pod, cfg, cri.container_config("b", SLEEP, pid=pb.CONTAINER))
    na, nb = ns_links(cri, a), ns_links(cri, b)
    assert na["pid"] != nb["pid"]
    assert na["net"] == nb["net"] and na["ipc"] == nb["ipc"] and na["uts"] == nb["uts"]
    assert [(pid, comm) for pid, comm, _s, _p in procs(cri, a) if pid == 1] == [(1, "sleep")]
    assert "pause" not in {comm for _p, comm, _s, _pp in procs(cri, b)}


@BOTH
def test_exec_sync(cri, pods, handler):
    import grpc

    pod, cfg = run_pod(cri, pods, handler, f"exec-{handler}")
    c = cri.create(pod, cfg, cri.container_config("main", SLEEP))
    r = cri.exec_sync(c, ["sh", "-c", "echo out; echo err >&2; exit 7"])
    assert (r.stdout, r.stderr, r.exit_code) == (b"out\n", b"err\n", 7)
    assert cri.exec_sync(c, ["true"]).exit_code == 0
    with pytest.raises(grpc.RpcError) as e:
        cri.exec_sync(c, ["sh", "-c", "sleep 30"], timeout=1)
    same("exec timeout code", handler, e.value.code())
    assert "timeout" in e.value.details()
    # the timed-out process was killed
    wait_for(lambda: "30" not in cri.sh(c, "cat /proc/[0-9]*/cmdline | tr '\\0' ' '").split(), what="exec killed")
    with ThreadPoolExecutor(4) as pool:
        rs = list(pool.map(lambda i: cri.exec_sync(c, ["sh", "-c", f"sleep 0.5; echo {i}; exit {i}"]), range(4)))
    assert [(r.stdout, r.exit_code) for r in rs] == [(f"{i}\n".encode(), i) for i in range(4)]
    with pytest.raises(grpc.RpcError) as e:
        cri.exec_sync(c, ["/no/such/binary"])
    same("exec missing binary", handler, e.value.code())


def log_lines(path: Path) -> list[tuple[str, str, str]]:
    """(stream, tag, text) of a CRI log file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return [tuple(line.split(" ", 3)[1:]) for line in text.splitlines()]


@BOTH
def test_logs_and_reopen(cri, pods, handler):
    pod, cfg = run_pod(cri, pods, handler, f"logs-{handler}")
    c = cri.create(pod, cfg, cri.container_config("main", [
        "sh", "-c", "echo first; echo oops >&2;"
        "while :; do if [ -e /tmp/go ]; then rm /tmp/go; echo second; fi; sleep 0.1; done"]))
    log = Path(cfg.log_directory) / "main.log"
    assert cri.status(c).status.log_path == str(log)
    wait_for(lambda: len(log_lines(log)) >= 2, what="log lines")
    lines = log_lines(log)
    assert ("stdout", "F", "first") in lines and ("stderr", "F", "oops") in lines
    log.rename(log.with_suffix(".log.1"))
    cri.rt.ReopenContainerLog(cri.pb.ReopenContainerLogRequest(container_id=c), timeout=30)
    cri.sh(c, "touch /tmp/go")
    wait_for(lambda: ("stdout", "F", "second") in log_lines(log), what="line in the reopened log")
    assert ("stdout", "F", "second") not in log_lines(log.with_suffix(".log.1"))


@BOTH
def test_status_list_stats(cri, pods, handler):
    pb = cri.pb
    pod, cfg = run_pod(cri, pods, handler, f"stats-{handler}")
    c = cri.create(pod, cfg, cri.container_config("main", SLEEP))
    st = cri.status(c).status
    assert st.state == pb.CONTAINER_RUNNING and st.started_at > 0 and st.finished_at == 0
    assert st.metadata.name == "main" and st.image.image.endswith("pbusybox:latest")
    listed = cri.containers(pod)
    assert [(x.id, x.state) for x in listed] == [(c, pb.CONTAINER_RUNNING)]
    created = cri.create(pod, cfg, cri.container_config("idle", SLEEP), start=False)
    assert cri.status(created).status.state == pb.CONTAINER_CREATED
    f = pb.ContainerFilter(pod_sandbox_id=pod, state=pb.ContainerStateValue(state=pb.CONTAINER_CREATED))
    assert [x.id for x in cri.rt.ListContainers(pb.ListContainersRequest(filter=f)).containers] == [created]
    stats = cri.rt.ContainerStats(pb.ContainerStatsRequest(container_id=c)).stats
    assert stats.memory.working_set_bytes.value > 0
    assert stats.cpu.usage_core_nano_seconds.value > 0
    assert stats.attributes.id == c
    allstats = cri.rt.ListContainerStats(pb.ListContainerStatsRequest(
        filter=pb.ContainerStatsFilter(pod_sandbox_id=pod))).stats
    assert c in {s.attributes.id for s in allstats}


def cgroup_file(controller: str, path: str, name: str) -> str:
    return Path(f"/sys/fs/cgroup/{controller}{path}/{name}").read_text().strip()


@BOTH
def test_update_container_resources(cri, pods, handler):
    pb = cri.pb
    pod, cfg = run_pod(cri, pods, handler, f"update-{handler}")
    c = cri.create(pod, cfg, cri.container_config(
        "main", SLEEP, resources=pb.LinuxContainerResources(memory_limit_in_bytes=256 << 20, cpu_shares=1024)))
    path = cri.cgroup_path(c)
    assert cgroup_file("memory", path, "memory.limit_in_bytes") == str(256 << 20)
    cri.rt.UpdateContainerResources(pb.UpdateContainerResourcesRequest(container_id=c, linux=pb.LinuxContainerResources(
        memory_limit_in_bytes=128 << 20, cpu_shares=512, cpu_period=100000, cpu_quota=50000, cpuset_cpus="0")),
        timeout=60)
    got = {
        "memory.limit_in_bytes": cgroup_file("memory", path, "memory.limit_in_bytes"),
        "cpu.shares": cgroup_file("cpu", path, "cpu.shares"),
        "cpu.cfs_quota_us": cgroup_file("cpu", path, "cpu.cfs_quota_us"),
        "cpu.cfs_period_us": cgroup_file("cpu", path, "cpu.cfs_period_us"),
        "cpuset.cpus": cgroup_file("cpuset", path, "cpuset.cpus"),
    }
    assert got == {"memory.limit_in_bytes": str(128 << 20), "cpu.shares": "512", "cpu.cfs_quota_us": "50000",
                   "cpu.cfs_period_us": "100000", "cpuset.cpus": "0"}
    assert cri.exec_sync(c, ["true"]).exit_code == 0


@BOTH
def test_stop_graceful_and_forced(cri, pods, handler):
    pb = cri.pb
    pod, cfg = run_pod(cri, pods, handler, f"stop-{handler}")
    graceful = cri.create(pod, cfg, cri.container_config(
        "graceful", ["sh", "-c", "trap 'exit 3' TERM; while :; do sleep 0.1; done"]))
    stubborn = cri.create(pod, cfg, cri.container_config(
        "stubborn", ["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"]))
    cri.stop_container(graceful, timeout=30)
    st = cri.status(graceful).status
    assert (st.state, st.exit_code, st.reason) == (pb.CONTAINER_EXITED, 3, "Error")
    t0 = time.monotonic()
    cri.stop_container(stubborn, timeout=1)
    st = cri.status(stubborn).status
    assert (st.state, st.exit_code, st.reason) == (pb.CONTAINER_EXITED, 137, "Error")
    assert st.finished_at > st.started_at
    del t0
    # stopping again is a no-op
    cri.stop_container(stubborn, timeout=1)


def runtime_ids(cri: Cri, handler: str) -> set[str]:
    r = cri.sb.run([cri.binaries[handler], "--root", "/run/containerd/runc/k8s.io", "list", "-q"])
    return set(r.stdout.split()) if r.returncode == 0 else set()


@BOTH
def test_remove_container_and_pod(cri, handler):
    pb = cri.pb
    cfg = cri.pod_config(f"remove-{handler}")
    pod = cri.run_pod(handler, cfg)
    try:
        c = cri.create(pod, cfg, cri.container_config("main", SLEEP))
        assert {pod, c} <= runtime_ids(cri, handler)
        cri.stop_container(c, timeout=1)
        cri.rt.RemoveContainer(pb.RemoveContainerRequest(container_id=c), timeout=60)
        assert c not in {x.id for x in cri.containers()}
        assert c not in runtime_ids(cri, handler)
        c2 = cri.create(pod, cfg, cri.container_config("second", SLEEP))
        cri.rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=60)
        assert cri.pod_status(pod).status.state == pb.SANDBOX_NOTREADY
        assert cri.status(c2).status.state == pb.CONTAINER_EXITED
        assert not runtime_ids(cri, handler) & {pod, c2} or cri.status(c2).status.state == pb.CONTAINER_EXITED
    finally:
        cri.remove_pod(pod)
    assert pod not in {p.id for p in cri.pods()}
    assert not {pod, c2} & runtime_ids(cri, handler)
    assert not cri.containers(pod)


def cap_eff(cri: Cri, cid: str) -> int:
    return int(re.search(r"CapEff:\s*([0-9a-f]+)", cri.sh(cid, "cat /proc/self/status"))[1], 16)


def seccomp_mode(cri: Cri, cid: str) -> str:
    return re.search(r"Seccomp:\s*(\d)", cri.sh(cid, "cat /proc/self/status"))[1]


@BOTH
def test_security_context(cri, pods, handler):
    pb = cri.pb
    pod, cfg = run_pod(cri, pods, handler, f"sec-{handler}", privileged=True,
                       sysctls={"kernel.shm_rmid_forced": "1", "net.ipv4.ip_unprivileged_port_start": "99"})
    Sec, Int = pb.LinuxContainerSecurityContext, pb.Int64Value

    def make(name, sec, command=SLEEP):
        return cri.create(pod, cfg, cri.container_config(name, command, security=sec))

    # runAsUser/runAsGroup: the process writes to /dev/stdout (the shim's pipe)
    user = make("user", Sec(run_as_user=Int(value=1000), run_as_group=Int(value=1000)),
                ["sh", "-c", "echo to-stdout > /dev/stdout && echo to-stderr > /dev/stderr && touch /tmp/ok; sleep 100000"])
    assert cri.sh(user, "id -u; id -g").split() == ["1000", "1000"]
    wait_for(lambda: cri.exec_sync(user, ["test", "-e", "/tmp/ok"]).exit_code == 0, what="writes to /dev/stdout")
    assert cri.sh(user, "echo via-exec > /dev/stdout") == "via-exec\n"
    # readOnlyRootFilesystem
    ro = make("ro", Sec(readonly_rootfs=True))
    r = cri.exec_sync(ro, ["touch", "/x"])
    assert r.exit_code != 0 and b"Read-only file system" in r.stderr
    # capabilities added/dropped
    caps = make("caps", Sec(capabilities=pb.Capability(add_capabilities=["NET_ADMIN"], drop_capabilities=["CHOWN"])))
    eff = cap_eff(cri, caps)
    assert eff & (1 << 12) and not eff & 1
    same("capabilities", handler, eff)
    assert cri.exec_sync(caps, ["ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1"]).exit_code == 0
    r = cri.exec_sync(caps, ["chown", "1000", "/tmp"])
    assert r.exit_code != 0
    # privileged
    priv = make("priv", Sec(privileged=True))
    same("privileged caps", handler, cap_eff(cri, priv))
    assert seccomp_mode(cri, priv) == "0"
    assert "kmsg" in cri.sh(priv, "ls /dev").split()
    # seccomp RuntimeDefault / Unconfined / Localhost
    default = make("seccomp-default", Sec(seccomp=pb.SecurityProfile(profile_type=pb.SecurityProfile.RuntimeDefault)))
    assert seccomp_mode(cri, default) == "2"
    r = cri.exec_sync(default, ["unshare", "-U", "true"])
    same("RuntimeDefault unshare", handler, r.exit_code)
    unconfined = make("seccomp-unconfined", Sec(seccomp=pb.SecurityProfile(profile_type=pb.SecurityProfile.Unconfined)))
    assert seccomp_mode(cri, unconfined) == "0"
    profile = cri.sb.dir / f"seccomp-{handler}.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}))
    local = make("seccomp-local", Sec(seccomp=pb.SecurityProfile(profile_type=pb.SecurityProfile.Localhost,
                                                                  localhost_ref=str(profile))))
    assert seccomp_mode(cri, local) == "2"
    r = cri.exec_sync(local, ["mkdir", "/tmp/d"])
    assert r.exit_code != 0 and b"Operation not permitted" in r.stderr
    # sysctls (pod-level)
    assert cri.sh(default, "cat /proc/sys/kernel/shm_rmid_forced /proc/sys/net/ipv4/ip_unprivileged_port_start").split() \
        == ["1", "99"]
    # masked and readonly paths
    masked = make("masked", Sec(masked_paths=["/proc/cmdline", "/proc/fs"], readonly_paths=["/proc/sys", "/proc/irq"]))
    assert cri.sh(masked, "wc -c < /proc/cmdline").strip() == "0"
    assert cri.sh(masked, "ls -A /proc/fs") == ""
    r = cri.exec_sync(masked, ["sh", "-c", "echo 0 > /proc/sys/kernel/shm_rmid_forced"])
    assert r.exit_code != 0 and b"Read-only file system" in r.stderr
    same("masked mounts", handler, cri.sh(masked, "grep -E ' /proc/(cmdline|fs|sys|irq) ' /proc/self/mounts | cut -d' ' -f2,4"))


class SharedVolume:
    """A host directory made a shared mount in the sandbox namespace (the
    "host" containerd and the runtimes see): HostToContainer and
    Bidirectional need a shared source."""

    def __init__(self, cri: Cri, name: str) -> None:
        self.sb = cri.sb
        self.path = cri.sb.dir / name
        self.path.mkdir()
        (self.path / "file").write_text("on the volume\n")
        self.sb.run(["mount", "--bind", str(self.path), str(self.path)], check=True)
        self.sb.run(["mount", "--make-shared", str(self.path)], check=True)

    def host_mount(self, sub: str) -> None:
        """A tmpfs mounted on the host side at sub/, holding sub/marker."""
        (self.path / sub).mkdir()
        self.sb.run(["mount", "-t", "tmpfs", "fromhost", str(self.path / sub)], check=True)
        self.sb.run(["touch", str(self.path / sub / "marker")], check=True)

    def host_sees(self, rel: str) -> bool:
        return self.sb.run(["test", "-e", str(self.path / rel)]).returncode == 0

    def close(self) -> None:
        self.sb.run(["umount", "-R", str(self.path)])


def volume_container(cri: Cri, pod: str, cfg, vol: SharedVolume, name: str, path: str, propagation: int,
                     privileged: bool = False) -> str:
    pb = cri.pb
    m = pb.Mount(container_path=path, host_path=str(vol.path), propagation=propagation)
    return cri.create(pod, cfg, cri.container_config(
        name, SLEEP, mounts=[m], security=pb.LinuxContainerSecurityContext(privileged=privileged)))


def sees(cri: Cri, cid: str, path: str) -> bool:
    return cri.exec_sync(cid, ["test", "-e", path]).exit_code == 0


@BOTH
def test_volume_propagation_none_and_host_to_container(cri, pods, handler):
    pb = cri.pb
    vol = SharedVolume(cri, f"vol-h2c-{handler}")
    try:
        pod, cfg = run_pod(cri, pods, handler, f"vol-{handler}")
        none = volume_container(cri, pod, cfg, vol, "none", "/none", pb.PROPAGATION_PRIVATE)
        h2c = volume_container(cri, pod, cfg, vol, "h2c", "/h2c", pb.PROPAGATION_HOST_TO_CONTAINER)
        assert cri.sh(none, "cat /none/file") == cri.sh(h2c, "cat /h2c/file") == "on the volume\n"
        same("h2c propagation", handler, cri.sh(h2c, "grep ' /h2c ' /proc/self/mountinfo | grep -o 'master:[0-9]*' "
                                                     "| sed 's/[0-9]*$//'"))
        # a mount made on the host side after the containers started
        vol.host_mount("hostmnt")
        assert not sees(cri, none, "/none/hostmnt/marker")
        assert sees(cri, h2c, "/h2c/hostmnt/marker")
    finally:
        vol.close()


@BOTH
def test_volume_propagation_bidirectional(cri, pods, handler):
    pb = cri.pb
    vol = SharedVolume(cri, f"vol-bidi-{handler}")
    try:
        pod, cfg = run_pod(cri, pods, handler, f"bidi-{handler}", privileged=True)
        h2c = volume_container(cri, pod, cfg, vol, "h2c", "/h2c", pb.PROPAGATION_HOST_TO_CONTAINER)
        bidi = volume_container(cri, pod, cfg, vol, "bidi", "/bidi", pb.PROPAGATION_BIDIRECTIONAL, privileged=True)
        vol.host_mount("hostmnt")
        assert sees(cri, bidi, "/bidi/hostmnt/marker")
        # a mount made in the Bidirectional container reaches the host and h2c
        cri.sh(bidi, "mkdir /bidi/cmnt && mount -t tmpfs fromcontainer /bidi/cmnt && touch /bidi/cmnt/marker")
        assert vol.host_sees("cmnt/marker")
        assert sees(cri, h2c, "/h2c/cmnt/marker")
    finally:
        vol.close()


@BOTH
def test_exit_codes(cri, pods, handler):
    import grpc

    pb = cri.pb
    pod, cfg = run_pod(cri, pods, handler, f"exit-{handler}")
    fail = cri.create(pod, cfg, cri.container_config("fail", ["sh", "-c", "exit 42"]))
    ok = cri.create(pod, cfg, cri.container_config("ok", ["true"]))
    st = cri.wait_exited(fail)
    assert (st.exit_code, st.reason) == (42, "Error")
    st = cri.wait_exited(ok)
    assert (st.exit_code, st.reason) == (0, "Completed")
    bad = cri.create(pod, cfg, cri.container_config("bad", ["/no/such/binary"]), start=False)
    with pytest.raises(grpc.RpcError) as e:
        cri.rt.StartContainer(pb.StartContainerRequest(container_id=bad), timeout=60)
    assert "/no/such/binary" in e.value.details()
    st = cri.status(bad).status
    same("start error", handler, (e.value.code(), st.state, st.exit_code, st.reason))


@BOTH
def test_oom_killed(cri, pods, handler):
    pb = cri.pb
    pod, cfg = run_pod(cri, pods, handler, f"oom-{handler}")
    c = cri.create(pod, cfg, cri.container_config(
        # the shim watches memory.oom_control once the task started: allocate after that
        "hog", ["sh", "-c", "sleep 1; exec dd if=/dev/zero of=/dev/null bs=256M count=1"],
        resources=pb.LinuxContainerResources(memory_limit_in_bytes=32 << 20)))
    st = cri.wait_exited(c)
    assert (st.exit_code, st.reason) == (137, "OOMKilled")


@BOTH
def test_containerd_restart_with_pods_running(cri, pods, handler):
    pb = cri.pb
    pod, cfg = run_pod(cri, pods, handler, f"restart-{handler}")
    c = cri.create(pod, cfg, cri.container_config("main", ["sh", "-c", "trap 'exit 5' TERM; while :; do sleep 0.1; done"]))
    pid = cri.pid(c)
    cri.restart()
    assert cri.pod_status(pod).status.state == pb.SANDBOX_READY
    assert cri.status(c).status.state == pb.CONTAINER_RUNNING
    assert cri.pid(c) == pid and os.path.exists(f"/proc/{pid}")
    assert cri.sh(c, "echo still here") == "still here\n"
    c2 = cri.create(pod, cfg, cri.container_config("after", SLEEP))
    assert cri.status(c2).status.state == pb.CONTAINER_RUNNING
    cri.stop_container(c, timeout=30)
    assert cri.status(c).status.exit_code == 5


@BOTH
def test_churn_and_parallel_pods(cri, handler):
    pb = cri.pb
    cfg = cri.pod_config(f"churn-{handler}")
    pod = cri.run_pod(handler, cfg)
    try:
        for i in range(5):
            c = cri.create(pod, cfg, cri.container_config(f"c{i}", SLEEP))
            assert cri.sh(c, f"echo {i}") == f"{i}\n"
            cri.stop_container(c, timeout=1)
            cri.rt.RemoveContainer(pb.RemoveContainerRequest(container_id=c), timeout=60)
        assert cri.containers(pod) == []
    finally:
        cri.remove_pod(pod)

    def one(i: int) -> str:
        cfg = cri.pod_config(f"par{i}-{handler}")
        pod = cri.run_pod(handler, cfg)
        try:
            c = cri.create(pod, cfg, cri.container_config("main", SLEEP))
            return cri.sh(c, "hostname")
        finally:
            cri.remove_pod(pod)

    with ThreadPoolExecutor(3) as pool:
        names = list(pool.map(one, range(3)))
    assert names == [f"par{i}-{handler}\n" for i in range(3)]


@BOTH
def test_streaming_exec_and_attach_with_tty(cri, pods, handler):
    """Exec and Attach through the streaming server's URL (websocket,
    v4.channel.k8s.io), with a terminal and a resize."""
    from tests.clients.cri_stream import STDIN, ChannelStream, exit_code

    pb = cri.pb
    pod, cfg = run_pod(cri, pods, handler, f"stream-{handler}")
    c = cri.create(pod, cfg, cri.container_config("main", SLEEP))
    url = cri.rt.Exec(pb.ExecRequest(container_id=c, tty=True, stdin=True, stdout=True, cmd=[
        "sh", "-c", "tty; until [ \"$(stty size)\" = '30 100' ]; do sleep 0.1; done; echo resized;"
        "read line; echo got:$line; exit 3"]), timeout=30).url
    ws = ChannelStream(url)
    try:
        ws.resize(100, 30)
        out, _err, _st = ws.collect(until=b"resized")
        ws.send(STDIN, b"hello\n")
        more, _err, status = ws.collect()
    finally:
        ws.close()
    out += more
    assert b"/dev/pts/" in out and b"got:hello" in out, out
    assert exit_code(status) == 3
    # a process that exits 0 reports Success
    url = cri.rt.Exec(pb.ExecRequest(container_id=c, stdout=True, stderr=True, cmd=["sh", "-c", "echo o; echo e >&2"]),
                      timeout=30).url
    ws = ChannelStream(url)
    try:
        out, err, status = ws.collect()
    finally:
        ws.close()
    assert (out, err, exit_code(status)) == (b"o\n", b"e\n", 0)
    # attach to a container whose process is an interactive shell on a tty
    a = cri.create(pod, cfg, cri.container_config("interactive", ["sh"], tty=True, stdin=True))
    url = cri.rt.Attach(pb.AttachRequest(container_id=a, stdin=True, stdout=True, tty=True), timeout=30).url
    ws = ChannelStream(url)
    try:
        ws.send(STDIN, b"echo from-attach-$((6*7))\n")
        out, _err, _st = ws.collect(until=b"from-attach-42")
        ws.send(STDIN, b"exit 4\n")
        ws.collect()
    finally:
        ws.close()
    assert b"from-attach-42" in out
    st = cri.wait_exited(a)
    assert st.exit_code == 4


def test_zz_no_leftovers(cri):
    """After every step on both handlers: no pod, container, task, runtime
    state, mount, netns, CNI result or process left."""
    assert cri.pods() == [] and cri.containers() == []
    assert cri.ctr("containers", "ls", "-q", check=True).stdout.split() == []
    assert cri.ctr("tasks", "ls", "-q", check=True).stdout.split() == []
    for handler in HANDLERS:
        assert runtime_ids(cri, handler) == set(), handler
    assert cri.sb.run(["ls", "-A", "/run/netns"]).stdout.split() == []
    assert cri.sb.run(["find", "/var/lib/cni", "-type", "f"]).stdout.split() == []
    mounts = cri.sb.run(["cat", "/proc/self/mountinfo"], check=True).stdout
    assert [m for m in mounts.splitlines() if str(cri.sb.dir) in m or "/run/containerd" in m] == []
    # the pod-level cgroup parents are the kubelet's to remove; no process in any
    for mnt in cgroup_mounts():
        top = Path(mnt, cri.sb.cgroup_parent)
        for procs_file in top.glob("**/cgroup.procs"):
            assert procs_file.read_text() == "", procs_file
        assert [p for p in top.glob("*/*") if p.is_dir()] == [], mnt
    # only containerd and its shims? none: no shim outlives its pods
    assert [p for p in cri.sb.ns_pids() if p != cri.proc.pid] == []
