"""A private containerd with its CRI plugin, and a CRI client.

containerd (Debian's 1.6) runs in the client tier's private mount namespace
(harness.Sandbox: a fresh tmpfs on /run, so /run/netns and the shim sockets
never touch the host; here also a tmpfs on /var/lib/cni, libcni's cache) with
its own root, state and socket and two runtime handlers, `runc` (Debian's
runc) and `pyrunc` (the tier's argv-logging wrapper), both
io.containerd.runc.v2 with BinaryName and the cgroupfs driver.

The CRI client speaks the kubelet's protocol: Python stubs are generated at
test time with grpcio-tools from ../shared/cri-api/runtime/v1/api.proto (the
proto is not part of this project) into a temp dir.

Images are built locally: busybox (image.py) with a static `pause` (compiled
here with gcc: sleeps until SIGTERM/SIGINT, reaps orphans like Kubernetes'
pause), imported with `ctr -n k8s.io images import`; `sandbox_image` points
at the pause image.

Networking: the CNI loopback plugin (Debian's containernetworking-plugins)
and `podveth`, a plugin of this file's own: it makes a veth pair whose two
ends both stay inside the pod's network namespace and gives one end the pod
IP. Nothing touches the host network.

The host here lacks CAP_SYS_RESOURCE: the pause container's oom_score_adj of
-998 cannot be set, so the config has `restrict_oom_score_adj = true`
(containerd then clamps the value to its own)."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.clients.harness import Sandbox, stop_pid, wait_for
from tests.clients.image import oci_archive

from tests.conftest import shared_path  # noqa: E402

PROTO = shared_path("cri-api", "runtime", "v1", "api.proto")
IMAGE = "docker.io/library/pbusybox:latest"
PAUSE_IMAGE = "docker.io/library/ppause:latest"
HANDLERS = ("runc", "pyrunc")
NAMESPACE = "k8s.io"
POD_SUBNET = "10.77.0"

PAUSE_C = r"""
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void quit(int s) { (void)s; _exit(0); }
static void reap(int s) { (void)s; while (waitpid(-1, 0, WNOHANG) > 0) ; }
int main(void) {
    struct sigaction q = {.sa_handler = quit}, r = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP | SA_RESTART};
    sigaction(SIGINT, &q, 0);
    sigaction(SIGTERM, &q, 0);
    sigaction(SIGCHLD, &r, 0);
    for (;;) pause();
}
"""

# A CNI plugin (spec 0.4.0): ADD makes eth0 (+ its peer) inside the pod's
# netns, both ends there, with an address derived from the container id.
PODVETH = r"""#!/bin/sh
set -e
cfg=$(cat)
case "$CNI_COMMAND" in
VERSION)
    echo '{"cniVersion":"0.4.0","supportedVersions":["0.3.0","0.3.1","0.4.0"]}'; exit 0 ;;
ADD)
    n=$(( $(printf '%s' "$CNI_CONTAINERID" | cksum | cut -d' ' -f1) % 250 + 2 ))
    peer="p${CNI_CONTAINERID%"${CNI_CONTAINERID#????????}"}"
    nsenter --net="$CNI_NETNS" ip link add "$CNI_IFNAME" type veth peer name "$peer" >&2
    nsenter --net="$CNI_NETNS" ip addr add "@SUBNET@.$n/24" dev "$CNI_IFNAME" >&2
    nsenter --net="$CNI_NETNS" ip link set "$peer" up >&2
    nsenter --net="$CNI_NETNS" ip link set "$CNI_IFNAME" up >&2
    mac=$(nsenter --net="$CNI_NETNS" cat "/sys/class/net/$CNI_IFNAME/address")
    printf '{"cniVersion":"0.4.0","interfaces":[{"name":"%s","mac":"%s","sandbox":"%s"}],' "$CNI_IFNAME" "$mac" "$CNI_NETNS"
    printf '"ips":[{"version":"4","address":"@SUBNET@.%s/24","interface":0}],"dns":{}}\n' "$n"
    exit 0 ;;
DEL)
    if [ -n "$CNI_NETNS" ] && [ -e "$CNI_NETNS" ]; then
        nsenter --net="$CNI_NETNS" ip link del "$CNI_IFNAME" >/dev/null 2>&1 || true
    fi
    exit 0 ;;
CHECK)
    exit 0 ;;
esac
echo '{"cniVersion":"0.4.0","code":4,"msg":"unknown CNI_COMMAND"}'
exit 1
"""

_stubs_lock = threading.Lock()
_stubs: tuple[ModuleType, ModuleType] | None = None


def stubs() -> tuple[ModuleType, ModuleType]:
    """(api_pb2, api_pb2_grpc), generated once per process into a temp dir."""
    global _stubs
    with _stubs_lock:
        if _stubs is None:
            from grpc_tools import protoc  # type: ignore[import-untyped]

            # generated, imported, and the directory removed (the modules stay loaded)
            with tempfile.TemporaryDirectory(prefix="pyrunc-cri-stubs-") as out:
                rc = protoc.main(["protoc", f"-I{PROTO.parent}", f"--python_out={out}", f"--grpc_python_out={out}",
                                  str(PROTO)])
                if rc != 0:
                    raise RuntimeError(f"protoc failed on {PROTO} ({rc})")
                sys.path.insert(0, out)
                try:
                    _stubs = (importlib.import_module("api_pb2"), importlib.import_module("api_pb2_grpc"))
                finally:
                    sys.path.remove(out)
        return _stubs


def missing_prerequisites() -> str | None:
    """Why the CRI tier cannot run here, or None."""
    for mod in ("grpc", "grpc_tools", "google.protobuf"):
        try:
            importlib.import_module(mod)
        except ImportError:
            return f"{mod} not installed (pip install -e '.[test]')"
    if not PROTO.is_file():
        return f"{PROTO} missing (the cri-api checkout next to the project)"
    for path in ("/usr/lib/cni/loopback", "/usr/bin/gcc"):
        if not os.path.exists(path):
            return f"{path} missing (apt-get install containernetworking-plugins gcc libc6-dev)"
    return None


def build_pause(path: Path) -> None:
    src = path.with_suffix(".c")
    src.write_text(PAUSE_C)
    subprocess.run(["gcc", "-static", "-O2", "-o", str(path), str(src)], check=True, capture_output=True)


class Cri:
    """containerd + CRI in a Sandbox, and RuntimeService/ImageService stubs."""

    def __init__(self, sb: Sandbox, binaries: dict[str, str] | None = None) -> None:
        """`binaries`: handler name -> runtime binary (BinaryName); by default
        `runc` (Debian's) and `pyrunc` (the sandbox's argv-logging wrapper)."""
        import grpc

        self.sb = sb
        self.pb, self.pb_grpc = stubs()
        d = sb.dir
        self.sock = str(d / "cri.sock")
        self.binaries = binaries or {"runc": "/usr/sbin/runc", "pyrunc": str(sb.wrapper)}
        self.cni_bin = d / "cni-bin"
        self.cni_conf = d / "cni-conf"
        self.logs = d / "pod-logs"
        for p in (self.cni_bin, self.cni_conf, self.logs):
            p.mkdir()
        os.symlink("/usr/lib/cni/loopback", self.cni_bin / "loopback")
        plugin = self.cni_bin / "podveth"
        plugin.write_text(PODVETH.replace("@SUBNET@", POD_SUBNET))
        plugin.chmod(0o755)
        (self.cni_conf / "10-podveth.conflist").write_text(
            '{"cniVersion":"0.4.0","name":"podveth","plugins":[{"type":"podveth"}]}\n')
        # libcni caches results in /var/lib/cni: a tmpfs there, in the namespace
        self.made_cni_dir = not os.path.exists("/var/lib/cni")
        if self.made_cni_dir:
            os.makedirs("/var/lib/cni")
        sb.run(["mount", "-t", "tmpfs", "-o", "mode=700", "pyrunc-cni", "/var/lib/cni"], check=True)
        self.config = d / "cri.toml"
        self.config.write_text(self._config())
        self.proc: subprocess.Popen | None = None
        self.start()
        self.channel = grpc.insecure_channel(f"unix://{self.sock}")
        self.rt = self.pb_grpc.RuntimeServiceStub(self.channel)
        self.img = self.pb_grpc.ImageServiceStub(self.channel)
        wait_for(lambda: self._ready(), timeout=60, what="CRI runtime ready")
        build_pause(d / "pause")
        oci_archive(str(d / "busybox.tar"), IMAGE, files={"pause": (d / "pause").read_bytes()})
        oci_archive(str(d / "pause.tar"), PAUSE_IMAGE, files={"pause": (d / "pause").read_bytes()},
                    entrypoint=["/pause"])
        for tar in ("busybox.tar", "pause.tar"):
            self.ctr("images", "import", str(d / tar), check=True)

    def _config(self) -> str:
        d = self.sb.dir
        cri = '[plugins."io.containerd.grpc.v1.cri"'
        runtimes = "".join(
            f'{cri}.containerd.runtimes.{name}]\n'
            '  runtime_type = "io.containerd.runc.v2"\n'
            f'{cri}.containerd.runtimes.{name}.options]\n'
            f'  BinaryName = "{binary}"\n'
            "  SystemdCgroup = false\n"
            for name, binary in self.binaries.items())
        return (
            "version = 2\n"
            f'root = "{d}/containerd-root"\n'
            f'state = "{d}/containerd-state"\n'
            'disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", '
            '"io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", '
            '"io.containerd.tracing.processor.v1.otlp"]\n'
            f'[grpc]\n  address = "{self.sock}"\n'
            f'[ttrpc]\n  address = "{self.sock}.ttrpc"\n'
            '[debug]\n  level = "info"\n'
            f"{cri}]\n"
            f'  sandbox_image = "{PAUSE_IMAGE}"\n'
            # no CAP_SYS_RESOURCE here: the pause container's -998 cannot be set
            "  restrict_oom_score_adj = true\n"
            "  disable_apparmor = true\n"
            '  stream_server_address = "127.0.0.1"\n'
            '  stream_server_port = "0"\n'
            "  enable_selinux = false\n"
            f"{cri}.containerd]\n"
            '  snapshotter = "overlayfs"\n'
            f'  default_runtime_name = "{next(iter(self.binaries))}"\n'
            f"{runtimes}"
            f"{cri}.cni]\n"
            f'  bin_dir = "{self.cni_bin}"\n'
            f'  conf_dir = "{self.cni_conf}"\n'
        )

    def start(self) -> None:
        self.proc = self.sb.spawn(["containerd", "--config", str(self.config)], "containerd.log")
        wait_for(lambda: self.proc.poll() is not None or os.path.exists(self.sock), what="containerd socket")
        if self.proc.poll() is not None:
            raise RuntimeError("containerd exited: " + (self.sb.dir / "containerd.log").read_text()[-3000:])

    def stop(self) -> None:
        """Stop containerd (SIGTERM, by pid); shims and pods keep running."""
        if self.proc is not None:
            self.sb.stop(self.proc)
            self.proc = None
            if os.path.exists(self.sock):
                os.unlink(self.sock)

    def restart(self) -> None:
        self.stop()
        self.start()
        wait_for(lambda: self._ready(), timeout=60, what="CRI runtime ready after restart")

    def _ready(self) -> bool:
        try:
            st = self.rt.Status(self.pb.StatusRequest(), timeout=5)
        except Exception:
            return False
        conds = {c.type: c.status for c in st.status.conditions}
        return conds.get("RuntimeReady", False) and conds.get("NetworkReady", False)

    def ctr(self, *args: str, **kw: Any) -> subprocess.CompletedProcess:
        return self.sb.run(["ctr", "--address", self.sock, "-n", NAMESPACE, *args], **kw)

    def close(self) -> list[str]:
        problems = []
        try:
            self.channel.close()
        except Exception:
            pass
        if self.proc is not None:
            stop_pid(self.proc)
        problems += self.sb.close()
        if self.made_cni_dir:
            try:
                os.rmdir("/var/lib/cni")
            except OSError as e:
                problems.append(f"/var/lib/cni: {e}")
        return problems

    # --- config builders -------------------------------------------------

    def pod_config(self, name: str, *, hostname: str = "", labels: dict | None = None, pid: int | None = None,
                   sysctls: dict | None = None, privileged: bool = False) -> Any:
        pb = self.pb
        uid = uuid.uuid4().hex[:12]
        logdir = self.logs / f"{name}-{uid}"
        logdir.mkdir()
        # the kubelet's default: a pid namespace per container (shareProcessNamespace: POD)
        ns = pb.NamespaceOption(network=pb.POD, pid=pb.CONTAINER if pid is None else pid, ipc=pb.POD)
        return pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, uid=uid, namespace="default", attempt=0),
            hostname=hostname or name,
            log_directory=str(logdir),
            dns_config=pb.DNSConfig(servers=["10.77.0.1"], searches=["pyrunc.test"], options=["ndots:2"]),
            labels=labels or {"app": name},
            annotations={"pyrunc.test/handler": "cri"},
            linux=pb.LinuxPodSandboxConfig(
                cgroup_parent=f"/{self.sb.cgroup_parent}/pod{uid}",
                sysctls=sysctls or {},
                security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns, privileged=privileged),
            ),
        )

    def container_config(self, name: str, command: list[str], *, pid: int = 1,
                         security: Any = None, resources: Any = None, mounts: list | None = None,
                         tty: bool = False, stdin: bool = False) -> Any:
        """`pid`: NamespaceMode, CONTAINER (1, the default) or POD (0)."""
        pb = self.pb
        sec = security if security is not None else pb.LinuxContainerSecurityContext()
        if not sec.HasField("namespace_options"):
            sec.namespace_options.CopyFrom(pb.NamespaceOption(network=pb.POD, pid=pid, ipc=pb.POD))
        return pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name, attempt=0),
            image=pb.ImageSpec(image=IMAGE),
            command=command,
            log_path=f"{name}.log",
            mounts=mounts or [],
            tty=tty,
            stdin=stdin,
            linux=pb.LinuxContainerConfig(security_context=sec, resources=resources),
        )

    # --- calls -------------------------------------------------------------

    def run_pod(self, handler: str, config: Any) -> str:
        return self.rt.RunPodSandbox(self.pb.RunPodSandboxRequest(config=config, runtime_handler=handler),
                                     timeout=120).pod_sandbox_id

    def create(self, pod: str, pod_config: Any, config: Any, start: bool = True) -> str:
        cid = self.rt.CreateContainer(self.pb.CreateContainerRequest(
            pod_sandbox_id=pod, config=config, sandbox_config=pod_config), timeout=120).container_id
        if start:
            self.rt.StartContainer(self.pb.StartContainerRequest(container_id=cid), timeout=120)
        return cid

    def exec_sync(self, cid: str, cmd: list[str], timeout: int = 0) -> Any:
        return self.rt.ExecSync(self.pb.ExecSyncRequest(container_id=cid, cmd=cmd, timeout=timeout), timeout=120)

    def runtime_log_tail(self, n: int = 5) -> str:
        return "\n".join(self.sb.argv_lines()[-n:])

    def sh(self, cid: str, script: str) -> str:
        """stdout of `sh -c script` in the container; asserts exit 0."""
        import grpc

        try:
            r = self.exec_sync(cid, ["sh", "-c", script])
        except grpc.RpcError as e:
            raise AssertionError(f"ExecSync {script!r}: {e.code()} {e.details()}") from None
        assert r.exit_code == 0, (script, r.exit_code, r.stdout, r.stderr)
        return r.stdout.decode()

    def status(self, cid: str, verbose: bool = False) -> Any:
        return self.rt.ContainerStatus(self.pb.ContainerStatusRequest(container_id=cid, verbose=verbose), timeout=30)

    def pod_status(self, pod: str, verbose: bool = False) -> Any:
        return self.rt.PodSandboxStatus(self.pb.PodSandboxStatusRequest(pod_sandbox_id=pod, verbose=verbose),
                                        timeout=30)

    def wait_exited(self, cid: str, timeout: float = 60) -> Any:
        return wait_for(lambda: (s := self.status(cid).status).state == self.pb.CONTAINER_EXITED and s,
                        timeout=timeout, what=f"{cid[:12]} exited")

    def stop_container(self, cid: str, timeout: int = 0) -> None:
        self.rt.StopContainer(self.pb.StopContainerRequest(container_id=cid, timeout=timeout), timeout=120)

    def remove_pod(self, pod: str) -> None:
        """StopPodSandbox + RemovePodSandbox (removes the pod's containers)."""
        self.rt.StopPodSandbox(self.pb.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=120)
        self.rt.RemovePodSandbox(self.pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=120)

    def pods(self) -> list[Any]:
        return list(self.rt.ListPodSandbox(self.pb.ListPodSandboxRequest(), timeout=30).items)

    def containers(self, pod: str = "") -> list[Any]:
        f = self.pb.ContainerFilter(pod_sandbox_id=pod)
        return list(self.rt.ListContainers(self.pb.ListContainersRequest(filter=f), timeout=30).containers)

    def handler_of(self, pod: str) -> str:
        import json

        info = json.loads(self.pod_status(pod, verbose=True).info["info"])
        return info["runtimeHandler"]

    def cgroup_path(self, cid: str) -> str:
        """The container's cgroupsPath, from the OCI spec containerd wrote."""
        import json

        info = json.loads(self.status(cid, verbose=True).info["info"])
        return info["runtimeSpec"]["linux"]["cgroupsPath"]

    def pid(self, cid: str) -> int:
        import json

        return json.loads(self.status(cid, verbose=True).info["info"])["pid"]
