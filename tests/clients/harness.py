"""Private daemons for the client tests.

Everything runs inside one private mount namespace held by a `sleep` process
(`unshare -m --propagation private`), with a fresh tmpfs on /run there, so
fixed paths such as /run/containerd/s (shim sockets) or /run/libpod never
touch the host.  Daemons are started with `nsenter -t HOLDER -m` (which execs,
so the pid we hold is the daemon's) and stopped by pid.  Teardown kills every
process left in the namespace (shims, conmon), every process in the test's
cgroups, removes those cgroups and the temp dir."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

CGROUP_ROOT = "/sys/fs/cgroup"


def cgroup_mounts() -> list[str]:
    """Mountpoints of every cgroup hierarchy (v1 controllers and cgroup2)."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fstype = post.split()[0]
            if fstype in ("cgroup", "cgroup2"):
                out.append(pre.split()[4])
    return out


def cgroup_pids(name: str) -> set[int]:
    pids: set[int] = set()
    for mnt in cgroup_mounts():
        top = os.path.join(mnt, name.strip("/"))
        for dirpath, _dirs, files in os.walk(top):
            if "cgroup.procs" in files:
                try:
                    pids |= {int(p) for p in Path(dirpath, "cgroup.procs").read_text().split()}
                except OSError:
                    pass
    return pids


def remove_cgroup_tree(name: str) -> list[str]:
    """rmdir `name` under every hierarchy, deepest first; returns what is left."""
    left = []
    for mnt in cgroup_mounts():
        top = os.path.join(mnt, name.strip("/"))
        if not os.path.isdir(top):
            continue
        for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda t: -t[0].count("/")):
            for attempt in range(50):
                try:
                    os.rmdir(dirpath)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    _thaw(dirpath)
                    time.sleep(0.1)
            else:
                left.append(dirpath)
    return left


def _thaw(path: str) -> None:
    for f, v in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
        try:
            Path(path, f).write_text(v)
        except OSError:
            pass


def kill_cgroup(name: str) -> None:
    for _ in range(50):
        pids = cgroup_pids(name)
        if not pids:
            return
        for mnt in cgroup_mounts():
            _thaw(os.path.join(mnt, name.strip("/")))
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


def _mnt_ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def wait_for(pred, timeout: float = 30.0, what: str = "condition", interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(interval)


def stop_pid(proc: subprocess.Popen, grace: float = 20.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


class Sandbox:
    """A temp dir, a private mount namespace and a cgroup parent name."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.dir = Path(tempfile.mkdtemp(prefix=f"pyrunc-{tag}-"))
        self.cgroup_parent = f"pyrunc-{tag}-{uuid.uuid4().hex[:8]}"
        self.argv_log = self.dir / "runtime-argv.log"
        self.wrapper = self._write_wrapper()
        self.daemons: list[subprocess.Popen] = []
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--",
             "sh", "-c", "mount -t tmpfs -o mode=755 pyrunc-run /run && echo ok && exec sleep infinity"],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
        )
        assert self.holder.stdout is not None
        line = self.holder.stdout.readline()
        if line.strip() != b"ok":
            self.holder.kill()
            raise RuntimeError("could not set up the private mount namespace")
        self.ns = wait_for(lambda: _mnt_ns(self.holder.pid) != _mnt_ns(os.getpid()) and _mnt_ns(self.holder.pid),
                           what="holder namespace")

    def _write_wrapper(self) -> Path:
        """The runtime binary handed to the clients: logs its argv, execs
        the python running the tests with `-m pyrunc`."""
        w = self.dir / "pyrunc"
        repo = Path(__file__).resolve().parents[2]
        w.write_text(
            "#!/bin/sh\n"
            f"printf '%s\\n' \"$*\" >> {self.argv_log}\n"
            f"PYTHONPATH={repo}${{PYTHONPATH:+:$PYTHONPATH}} exec {sys.executable} -m pyrunc \"$@\"\n"
        )
        w.chmod(0o755)
        return w

    def argv_lines(self) -> list[str]:
        try:
            return self.argv_log.read_text().splitlines()
        except FileNotFoundError:
            return []

    def nsenter(self, argv: list[str]) -> list[str]:
        return ["nsenter", "-t", str(self.holder.pid), "-m", "--", *argv]

    def spawn(self, argv: list[str], log: str, env: dict | None = None) -> subprocess.Popen:
        f = open(self.dir / log, "ab")
        p = subprocess.Popen(self.nsenter(argv), stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=env, start_new_session=True)
        f.close()
        self.daemons.append(p)
        return p

    def run(self, argv: list[str], *, input: str | bytes | None = None, timeout: float = 60, env: dict | None = None,
            check: bool = False) -> subprocess.CompletedProcess:
        text = not isinstance(input, bytes)
        r = subprocess.run(self.nsenter(argv), input=input, capture_output=True, text=text, timeout=timeout, env=env)
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
                                 f"\nruntime argv log tail:\n" + "\n".join(self.argv_lines()[-5:]))
        return r

    def stop(self, proc: subprocess.Popen) -> None:
        stop_pid(proc, grace=30)
        if proc in self.daemons:
            self.daemons.remove(proc)

    def ns_pids(self) -> list[int]:
        out = []
        for d in os.listdir("/proc"):
            if d.isdigit() and int(d) != self.holder.pid and _mnt_ns(int(d)) == self.ns:
                out.append(int(d))
        return out

    def close(self) -> list[str]:
        """Tear everything down; returns a list of what could not be removed."""
        problems = []
        for p in reversed(self.daemons):
            stop_pid(p)
        kill_cgroup(self.cgroup_parent)
        for _ in range(50):
            pids = self.ns_pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        kill_cgroup(self.cgroup_parent)
        self.holder.kill()
        self.holder.wait()
        problems += remove_cgroup_tree(self.cgroup_parent)
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.dir.exists():  # overlay mounts lived in the namespace: gone with it
            problems.append(str(self.dir))
        return problems


def write_json(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc, indent=2))
    return path


def containerd_config(root: Path) -> Path:
    """A containerd config with its own root, state and sockets and no CRI."""
    cfg = root / "containerd.toml"
    cfg.write_text(
        "version = 2\n"
        f'root = "{root}/containerd-root"\n'
        f'state = "{root}/containerd-state"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", '
        '"io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", '
        '"io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]\n'
        "[grpc]\n"
        f'  address = "{root}/containerd.sock"\n'
        "[ttrpc]\n"
        f'  address = "{root}/containerd.sock.ttrpc"\n'
        "[debug]\n"
        '  level = "info"\n'
    )
    return cfg


def start_containerd(sb: Sandbox) -> tuple[subprocess.Popen, str]:
    cfg = containerd_config(sb.dir)
    sock = str(sb.dir / "containerd.sock")
    p = sb.spawn(["containerd", "--config", str(cfg)], "containerd.log")
    wait_for(lambda: p.poll() is not None or os.path.exists(sock), what="containerd socket")
    if p.poll() is not None:
        raise RuntimeError("containerd exited: " + (sb.dir / "containerd.log").read_text()[-2000:])
    wait_for(lambda: sb.run(["ctr", "--address", sock, "version"]).returncode == 0, what="containerd ready")
    return p, sock


class Docker:
    """dockerd on a private containerd, its own data/exec roots and socket."""

    def __init__(self, sb: Sandbox, containerd_sock: str) -> None:
        self.sb = sb
        self.containerd_sock = containerd_sock
        self.sock = str(sb.dir / "docker.sock")
        self.proc: subprocess.Popen | None = None
        self.env = {**os.environ, "DOCKER_CONFIG": str(sb.dir / "docker-cli"), "DOCKER_HOST": f"unix://{self.sock}"}

    def start(self, config: dict, flags: list[str] = ()) -> None:
        cfg = write_json(self.sb.dir / "daemon.json", {
            "data-root": str(self.sb.dir / "docker-data"),
            "exec-root": str(self.sb.dir / "docker-exec"),
            "pidfile": str(self.sb.dir / "docker.pid"),
            "hosts": [f"unix://{self.sock}"],
            "containerd": self.containerd_sock,
            "bridge": "none",
            "iptables": False,
            "ip-forward": False,
            "ip-masq": False,
            "userland-proxy": False,
            "cgroup-parent": "/" + self.sb.cgroup_parent,
            "exec-opts": ["native.cgroupdriver=cgroupfs"],
            "storage-driver": "overlay2",
            **config,
        })
        self.proc = self.sb.spawn(["dockerd", "--config-file", str(cfg), *flags], "dockerd.log")
        wait_for(lambda: self.proc.poll() is not None or self.docker("version").returncode == 0,
                 timeout=60, what="dockerd ready")
        if self.proc.poll() is not None:
            raise RuntimeError("dockerd exited: " + (self.sb.dir / "dockerd.log").read_text()[-3000:])

    def stop(self) -> None:
        if self.proc is not None:
            self.sb.stop(self.proc)
            self.proc = None

    def docker(self, *args: str, input: str | bytes | None = None, timeout: float = 60,
               check: bool = False) -> subprocess.CompletedProcess:
        return self.sb.run(["docker", *args], input=input, timeout=timeout, env=self.env, check=check)


class Podman:
    """podman with its own storage, run root, containers.conf; cgroupfs,
    file events, no network; every call runs in the sandbox namespace."""

    def __init__(self, sb: Sandbox, runtime: str) -> None:
        self.sb = sb
        d = sb.dir
        self.storage_conf = d / "storage.conf"
        self.storage_conf.write_text(
            "[storage]\n"
            'driver = "overlay"\n'
            f'graphroot = "{d}/podman-graph"\n'
            f'runroot = "{d}/podman-run"\n'
        )
        self.containers_conf = d / "containers.conf"
        self.containers_conf.write_text(
            "[containers]\n"
            'netns = "none"\n'
            # root here lacks CAP_SYS_RESOURCE: podman's default 1048576 cannot be set
            'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n'
            'cgroupns = "host"\n'
            "[engine]\n"
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f'events_logfile_path = "{d}/podman-events.log"\n'
            f'tmp_dir = "{d}/podman-tmp"\n'
            f'static_dir = "{d}/podman-graph/libpod"\n'
            f'volume_path = "{d}/podman-graph/volumes"\n'
            'no_pivot_root = false\n'
            'runtime = "pyrunc"\n'
            "[engine.runtimes]\n"
            f'pyrunc = ["{runtime}"]\n'
            "[network]\n"
            f'network_config_dir = "{d}/podman-net"\n'
        )
        self.env = {**os.environ, "CONTAINERS_CONF": str(self.containers_conf),
                    "CONTAINERS_STORAGE_CONF": str(self.storage_conf), "XDG_RUNTIME_DIR": str(d / "xdg")}

    def podman(self, *args: str, input: str | bytes | None = None, timeout: float = 60,
               check: bool = False) -> subprocess.CompletedProcess:
        return self.sb.run(["podman", "--cgroup-manager", "cgroupfs", "--events-backend", "file", *args],
                           input=input, timeout=timeout, env=self.env, check=check)
