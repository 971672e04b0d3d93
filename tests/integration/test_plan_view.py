"""`pyrunc plan`, the --debug timeline and init errors that name the config
field: the plan printed is the plan executed (real containers in debug
mode report each record they ran), every config `create` accepts has a
plan, every one it refuses before the init gets the same error from
`plan`, and a failing record is reported with the field it came from."""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import new_id, shared_path

FIXTURES = shared_path("oci-spec-v1.3.0", "fixtures", "config")


def plan_json(pyrunc, b, *extra: str) -> list[dict]:
    p = pyrunc("plan", "--bundle", str(b.path), "--format", "json", *extra)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["ops"]


def executed(log_path: Path) -> list[tuple[int, str]]:
    """(plan index, text) of every record the init reported, from the json log."""
    out = []
    for line in log_path.read_text().splitlines():
        msg = json.loads(line)["msg"]
        m = re.match(r"^(?:create|start) \S+: init \[(\d+)\] (.*): (?:[\d.]+ ms|last step)$", msg)
        if m:
            out.append((int(m.group(1)), m.group(2)))
    return out


def rich(c: dict, tmp: Path) -> None:
    """A config with one of (almost) every kind of record."""
    c["root"]["readonly"] = False
    c["hostname"] = "planned"
    c["domainname"] = "example.org"
    c["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"}
    c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 512},
                               {"type": "RLIMIT_NPROC", "soft": 100, "hard": 200}]
    c["process"]["oomScoreAdj"] = 100
    c["process"]["cwd"] = "/tmp"
    c["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5], "umask": 0o27}
    c["process"]["noNewPrivileges"] = True
    c["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 4}
    c["process"]["execCPUAffinity"] = {"initial": "0", "final": "0"}
    c["linux"]["personality"] = {"domain": "LINUX"}
    c["linux"]["timeOffsets"] = {"monotonic": {"secs": 10, "nanosecs": 0}}
    c["linux"]["namespaces"].append({"type": "time"})
    c["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600}]
    src = tmp / "vol"
    src.mkdir(exist_ok=True)
    c["mounts"] += [{"destination": "/vol", "type": "bind", "source": str(src), "options": ["rbind", "ro"]},
                    {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}]
    c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                             "syscalls": [{"names": ["swapon"], "action": "SCMP_ACT_ERRNO"}]}
    hook = {"path": "/bin/true"}
    c["hooks"] = {"prestart": [hook], "createRuntime": [hook], "createContainer": [hook],
                  "startContainer": [{"path": "/bin/true"}]}


@pytest.mark.parametrize("variant", ["default", "rich", "userns", "no-pivot"])
def test_plan_printed_is_plan_executed(pyrunc, make_bundle, tmp_path, variant):
    def edit(c):
        if variant == "rich":
            rich(c, tmp_path)
        if variant == "userns":
            c["linux"]["namespaces"].append({"type": "user"})
            c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
            c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    b = make_bundle(["true"], edit)
    if variant == "userns":
        os.chown(b.rootfs, 100000, 100000)
        p = b.path  # the mapped root must reach the rootfs (pytest's tmp dirs are 0700)
        while str(p) != "/tmp":
            os.chmod(p, os.stat(p).st_mode | 0o055)
            p = p.parent
    cid = new_id("plan")
    extra = ["--no-pivot"] if variant == "no-pivot" else []
    printed = plan_json(pyrunc, b, "--id", cid, *extra)
    log = tmp_path / f"{cid}.log"
    p = pyrunc("--debug", "--log", str(log), "--log-format", "json", "create", "-b", str(b.path), *extra, cid)
    assert p.returncode == 0, p.stderr
    pyrunc("--debug", "--log", str(log), "--log-format", "json", "start", cid, check=True)
    pyrunc("delete", "--force", cid, check=True)
    ran = executed(log)
    # the trace record itself is first when running; the printed plan has none
    assert [i - 1 for i, _ in ran] == [r["index"] for r in printed], (ran, printed)
    # fd numbers are whatever is free in the create process: compared as N
    def norm(t: str) -> str:
        return re.sub(r"fd=\d+", "fd=N", t)
    expected = [r["text"] + (f" ({r['source']})" if r["source"] else "") for r in printed]
    assert [norm(t) for _, t in ran] == [norm(t) for t in expected]
    assert printed[-1]["op"] == "exec"
    kinds = {r["op"] for r in printed}
    if variant == "rich":
        assert {"sysctl", "rlimit", "mount", "mknod", "hook", "hooks_sync", "seccomp", "setgroups", "setuid",
                "caps", "no_new_privs", "hostname", "domainname", "personality", "ioprio", "cpu_affinity",
                "unshare_time", "oom_score_adj"} <= kinds, kinds
        sources = {r["source"] for r in printed if r["source"]}
        assert 'linux.sysctl["net.ipv4.ip_forward"]' in sources
        assert "linux.devices[0]" in sources and "hooks.createContainer[0]" in sources


def test_plan_text_names_fields(pyrunc, make_bundle):
    b = make_bundle(["true"])
    p = pyrunc("plan", "--bundle", str(b.path))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert any("mount -t proc proc -> /proc" in l and "[mounts[0]]" in l for l in lines), p.stdout
    assert any(l.split()[1] == "launcher" and "clone" in l for l in lines)
    assert "execve ['true']" in lines[-1]
    assert not list(Path(pyrunc.root).glob("*")) if pyrunc.root.exists() else True


def fixture_configs() -> list[Path]:
    if not FIXTURES.is_dir():
        return []
    return sorted(p for p in FIXTURES.glob("*/*.json")
                  if not p.name.startswith(("freebsd", "zos", "windows", "solaris", "vm")))


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="the runtime-spec fixtures (../shared/oci-spec-v1.3.0) are absent")
@pytest.mark.parametrize("fixture", fixture_configs(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_plan_agrees_with_create(pyrunc, make_bundle, tmp_path, fixture):
    """plan prints a plan for every fixture create accepts, and refuses the
    rest with create's own error line (when create refuses before the init)."""
    b = make_bundle(["true"])
    text = fixture.read_text()
    try:
        cfg = json.loads(text)
        if isinstance(cfg, dict) and isinstance(cfg.get("root"), dict):
            cfg["root"]["path"] = "rootfs"
        text = json.dumps(cfg)
    except ValueError:
        pass
    (b.path / "config.json").write_text(text)
    cid = new_id("fx")
    c = pyrunc("create", "-b", str(b.path), cid)
    pl = pyrunc("plan", "--as", "create", "--bundle", str(b.path), "--id", cid, "--format", "json")
    pyrunc("delete", "--force", cid)
    if c.returncode == 0 or "container init" in c.stderr:
        assert pl.returncode == 0, pl.stderr
        assert json.loads(pl.stdout)["ops"][-1]["op"] == "exec"
    else:
        assert pl.returncode != 0
        assert pl.stderr.strip() == c.stderr.strip().splitlines()[-1], (pl.stderr, c.stderr)


# ------------------------------------------------------------------ errors naming the field

def test_bind_directory_onto_file_names_the_mount(pyrunc, make_bundle, tmp_path):
    src = tmp_path / "adir"
    src.mkdir()

    def edit(c):
        c["mounts"].append({"destination": "/etc/passwd", "type": "bind", "source": str(src), "options": ["bind"]})
    b = make_bundle(["true"], edit)
    p = pyrunc("run", "-b", str(b.path), new_id("err"))
    assert p.returncode != 0
    n = len(b.config["mounts"]) - 1
    assert f"mounts[{n}] (/etc/passwd, bind from {src})" in p.stderr, p.stderr
    assert "the source is a directory" in p.stderr


def test_sysctl_failure_names_the_key(pyrunc, make_bundle):
    def edit(c):
        c["linux"]["sysctl"] = {"net.ipv4.no_such_sysctl_pyrunc": "1"}
    b = make_bundle(["true"], edit)
    p = pyrunc("run", "-b", str(b.path), new_id("err"))
    assert p.returncode != 0
    assert "net.ipv4.no_such_sysctl_pyrunc" in p.stderr and "sysctl" in p.stderr, p.stderr


def test_cwd_that_is_a_file_names_process_cwd(pyrunc, make_bundle):
    def edit(c):
        c["process"]["cwd"] = "/etc/passwd/dir"
    b = make_bundle(["true"], edit)
    p = pyrunc("run", "-b", str(b.path), new_id("err"))
    assert p.returncode != 0
    assert "process.cwd" in p.stderr and "/etc/passwd/dir" in p.stderr, p.stderr


def test_seccomp_refused_by_the_kernel_names_linux_seccomp(pyrunc, make_bundle):
    """TSYNC together with a notify listener is refused by the kernel (EINVAL)."""
    def edit(c):
        c["process"]["noNewPrivileges"] = True
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_TSYNC"],
                                 "listenerPath": "/nonexistent-pyrunc.sock",
                                 "syscalls": [{"names": ["swapon"], "action": "SCMP_ACT_NOTIFY"}]}
    b = make_bundle(["true"], edit)
    p = pyrunc("run", "-b", str(b.path), new_id("err"))
    assert p.returncode != 0
    assert "linux.seccomp" in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
