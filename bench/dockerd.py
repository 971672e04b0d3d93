"""A private dockerd for the docker case (`--dockerd`): its own socket,
data-root and exec-root in the work directory, no bridge or iptables, and
every runtime under test registered as `bench-NAME`. A multi-word runtime
command gets a one-line wrapper script, since dockerd wants one path."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time

from .proc import BenchError
from .runtime import Runtime


class PrivateDockerd:
    def __init__(self, workdir: str, runtimes: list[Runtime]) -> None:
        self.dir = os.path.join(workdir, "dockerd")
        self.sock = os.path.join(self.dir, "docker.sock")
        self.names = {rt.name: f"bench-{rt.name}" for rt in runtimes}
        self.runtimes = runtimes
        self.proc: subprocess.Popen[bytes] | None = None
        self.saved_host = os.environ.get("DOCKER_HOST")
        # containers go under a cgroup of our own, removed at stop
        self.cgroup_parent = f"pyrunc-bench-{os.getpid()}"

    def _runtime_path(self, rt: Runtime) -> str:
        if len(rt.command) == 1:
            return shutil.which(rt.command[0]) or rt.command[0]
        path = os.path.join(self.dir, "bin", rt.name)
        with open(path, "w") as f:
            f.write(f"#!/bin/sh\nexec {shlex.join(rt.command)} \"$@\"\n")
        os.chmod(path, 0o755)
        return path

    def start(self, timeout: float = 60.0) -> None:
        dockerd = shutil.which("dockerd")
        if dockerd is None:
            raise BenchError("--dockerd: dockerd is not installed")
        os.makedirs(os.path.join(self.dir, "bin"))
        argv = [dockerd, "--host", f"unix://{self.sock}",
                "--data-root", os.path.join(self.dir, "data"),
                "--exec-root", os.path.join(self.dir, "exec"),
                "--pidfile", os.path.join(self.dir, "docker.pid"),
                "--bridge", "none", "--iptables=false", "--ip6tables=false",
                "--cgroup-parent", "/" + self.cgroup_parent]
        for rt in self.runtimes:
            argv += ["--add-runtime", f"{self.names[rt.name]}={self._runtime_path(rt)}"]
        log = open(os.path.join(self.dir, "dockerd.log"), "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     start_new_session=True)
        log.close()
        os.environ["DOCKER_HOST"] = f"unix://{self.sock}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"--dockerd: dockerd exited {self.proc.returncode}: {self._log_tail()}")
            ok = subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
            if ok:
                return
            time.sleep(0.5)
        raise BenchError(f"--dockerd: dockerd not ready after {timeout:.0f}s: {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            with open(os.path.join(self.dir, "dockerd.log"), "rb") as f:
                return " ".join(f.read()[-300:].decode(errors="replace").split())
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self._remove_cgroups()
        if self.saved_host is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = self.saved_host

    def _remove_cgroups(self) -> None:
        """rmdir the cgroup parent in every hierarchy (its containers are gone)."""
        for base, dirs, _ in os.walk("/sys/fs/cgroup", topdown=False):
            if os.path.basename(base) == self.cgroup_parent:
                for d in dirs:
                    try:
                        os.rmdir(os.path.join(base, d))
                    except OSError:
                        pass
                try:
                    os.rmdir(base)
                except OSError:
                    pass
