"""Loading bundles: one-line errors naming the field or path, every create-time
check firing, the default spec, and cheap imports."""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pyrunc.errors import BundleError, ConfigError
from pyrunc.spec.default import default_spec
from pyrunc.spec.load import json_path, load_config, load_process, validate_bundle
from spec_oracles import REPO, official_validator

Mutator = Callable[[dict[str, Any]], Any]


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    (tmp_path / "rootfs").mkdir()
    write(tmp_path, default_spec())
    return tmp_path


def write(bundle: Path, config: Any) -> None:
    (bundle / "config.json").write_text(json.dumps(config))


def mutated(bundle: Path, change: Mutator) -> Path:
    config = default_spec()
    change(config)
    write(bundle, config)
    return bundle


def one_line(err: Exception) -> str:
    text = str(err)
    assert "\n" not in text and text, repr(text)
    return text


# --- reading ------------------------------------------------------------------


def test_default_bundle_round_trips(bundle: Path) -> None:
    assert load_config(str(bundle)) == default_spec()
    assert validate_bundle(str(bundle)) == []


def test_unknown_properties_are_ignored_and_dropped(bundle: Path) -> None:
    config = default_spec()
    config["vendorThing"] = {"x": 1}
    config["process"]["futureField"] = [1, 2]
    config["linux"]["resources"]["devices"][0]["extra"] = None
    write(bundle, config)
    loaded = load_config(str(bundle))
    assert "vendorThing" not in loaded
    assert "futureField" not in loaded["process"]
    assert loaded == default_spec()


def test_missing_bundle(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(BundleError) as exc:
        load_config(str(missing))
    assert str(missing) in one_line(exc.value)


def test_missing_config(tmp_path: Path) -> None:
    with pytest.raises(BundleError) as exc:
        load_config(str(tmp_path))
    assert str(tmp_path / "config.json") in one_line(exc.value)
    assert "does not exist" in str(exc.value)


def test_unreadable_config(tmp_path: Path) -> None:
    (tmp_path / "config.json").mkdir()
    with pytest.raises(BundleError) as exc:
        load_config(str(tmp_path))
    assert str(tmp_path / "config.json") in one_line(exc.value)


def test_malformed_json_names_line_and_column(bundle: Path) -> None:
    (bundle / "config.json").write_text('{\n  "ociVersion": "1.3.0",\n  "root": ]\n}')
    with pytest.raises(ConfigError) as exc:
        load_config(str(bundle))
    text = one_line(exc.value)
    assert "3:11" in text and "config.json" in text


def test_not_an_object(bundle: Path) -> None:
    write(bundle, ["ociVersion"])
    with pytest.raises(ConfigError, match="must be a JSON object"):
        load_config(str(bundle))


def test_json_path() -> None:
    assert json_path(("mounts", 2, "destination")) == "mounts[2].destination"
    assert json_path(("linux", "namespaces", 1, "type")) == "linux.namespaces[1].type"
    assert json_path(()) == ""


def _set(path: str, value: Any) -> Mutator:
    """A mutator setting a dotted path (ints index lists); value DELETE removes it."""

    def change(config: dict[str, Any]) -> None:
        keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split(".")]
        node: Any = config
        for key in keys[:-1]:
            if isinstance(node, dict):
                node = node.setdefault(key, {})
            else:
                node = node[key]
        if value is DELETE:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value

    return change


DELETE = object()

SCHEMA_CASES = [
    ("process.args", "x", "process.args", "valid list"),
    ("mounts.2.destination", 5, "mounts[2].destination", "valid string"),
    ("mounts.2.destination", DELETE, "mounts[2].destination", "required"),
    ("linux.namespaces.1.type", "foo", "linux.namespaces[1].type", '"foo"'),
    ("ociVersion", DELETE, "ociVersion", "required"),
    ("root.path", DELETE, "root.path", "required"),
    ("hostname", None, "hostname", "valid string"),
    ("process.user.uid", -1, "process.user.uid", "greater than or equal to 0"),
    ("process.user.gid", 2**32, "process.user.gid", "less than or equal to 4294967295"),
    ("process.terminal", 1, "process.terminal", "valid boolean"),
    ("process.oomScoreAdj", 1.0, "process.oomScoreAdj", "valid integer"),
    ("process.rlimits.0.type", "nofile", "process.rlimits[0].type", "pattern"),
    ("linux.resources.hugepageLimits", [{"pageSize": "64kB", "limit": 1}],
     "linux.resources.hugepageLimits[0].pageSize", "64kB"),
    ("linux.resources.rdma", {"mlx": {"hcaHandles": "3"}}, "linux.resources.rdma.mlx.hcaHandles", ""),
    ("linux.seccomp", {"syscalls": []}, "linux.seccomp.defaultAction", "required"),
    ("linux.seccomp", {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_LOG"}]},
     "linux.seccomp.syscalls[0].names", "at least 1"),
    ("linux.sysctl", {"net.ipv4.ip_forward": 1}, "linux.sysctl", "net.ipv4.ip_forward"),
    ("annotations", {"a": ["b"]}, "annotations", "'a'"),
    ("linux.rootfsPropagation", "shared-ish", "linux.rootfsPropagation", '"shared-ish"'),
    ("linux.devices", [{"type": "x", "path": "/dev/x"}], "linux.devices[0].type", "pattern"),
    ("process.capabilities.bounding", "CAP_KILL", "process.capabilities.bounding", "valid list"),
    ("hooks.poststart", [{"path": "/bin/true", "timeout": 0}], "hooks.poststart[0].timeout", ""),
]  # fmt: skip


@pytest.mark.parametrize("path,value,field,fragment", SCHEMA_CASES, ids=[c[2] for c in SCHEMA_CASES])
def test_schema_errors_name_the_field(
    bundle: Path, path: str, value: Any, field: str, fragment: str
) -> None:
    mutated(bundle, _set(path, value))
    with pytest.raises(ConfigError) as exc:
        load_config(str(bundle))
    text = one_line(exc.value)
    assert exc.value.field == field, text
    assert text.startswith(f"{field}: ")
    assert fragment in text
    # validate lists the same problem as its first line
    assert validate_bundle(str(bundle))[0] == text


# --- create-time checks -------------------------------------------------------


def _ns(config: dict[str, Any], kind: str, path: str | None = None) -> None:
    entry = {"type": kind} if path is None else {"type": kind, "path": path}
    config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"] if n["type"] != kind]
    config["linux"]["namespaces"].append(entry)


def _drop_ns(kind: str) -> Mutator:
    def change(config: dict[str, Any]) -> None:
        config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"] if n["type"] != kind]

    return change


def _both(*changes: Mutator) -> Mutator:
    def change(config: dict[str, Any]) -> None:
        for c in changes:
            c(config)

    return change


_MAPPING = [{"containerID": 0, "hostID": 100000, "size": 65536}]

SEMANTIC_CASES: list[tuple[str, Mutator, str, str]] = [
    ("rootfs missing", _set("root.path", "nothere"), "root.path", "No such file"),
    ("rootfs a file", _set("root.path", "config.json"), "root.path", "not a directory"),
    ("no root", _set("root", DELETE), "root", "required"),
    ("no process", _set("process", DELETE), "process", "required"),
    ("relative cwd", _set("process.cwd", "tmp"), "process.cwd", "absolute"),
    ("empty args", _set("process.args", []), "process.args", "empty"),
    ("no args", _set("process.args", DELETE), "process.args", "empty"),
    ("env without =", _set("process.env", ["PATH"]), "process.env[0]", "KEY=VALUE"),
    ("env empty name", _set("process.env", ["=x"]), "process.env[0]", "name"),
    ("duplicate ns", lambda c: c["linux"]["namespaces"].append({"type": "ipc"}),
     "linux.namespaces[5].type", "duplicate"),
    ("uid mappings w/o userns", _set("linux.uidMappings", _MAPPING), "linux.uidMappings", "user namespace"),
    ("gid mappings w/o userns", _set("linux.gidMappings", _MAPPING), "linux.gidMappings", "user namespace"),
    ("userns w/o mappings", lambda c: _ns(c, "user"), "linux.uidMappings", "needs uid mappings"),
    ("timeOffsets w/o timens", _set("linux.timeOffsets", {"monotonic": {"secs": 1}}),
     "linux.timeOffsets", "time namespace"),
    ("hostname w/o uts", _drop_ns("uts"), "hostname", "UTS"),
    ("domainname w/o uts", _both(_drop_ns("uts"), _set("hostname", DELETE), _set("domainname", "d")),
     "domainname", "UTS"),
    # runc's rule: masks cannot be made without a mount namespace of the container's own
    ("no mount ns, masks", _drop_ns("mount"), "linux.maskedPaths", "mount namespace"),
    ("ns path missing", lambda c: _ns(c, "network", "/proc/self/ns/nothere"),
     "linux.namespaces[4].path", "No such file"),
    ("ns path relative", lambda c: _ns(c, "network", "proc/self/ns/net"),
     "linux.namespaces[4].path", "absolute"),
    ("ns path wrong type", lambda c: _ns(c, "network", "/proc/self/ns/uts"),
     "linux.namespaces[4].path", "uts namespace, not network"),
    ("ns path not a ns", lambda c: _ns(c, "network", "/etc/hostname"),
     "linux.namespaces[4].path", "not a namespace"),
    ("net sysctl w/o netns", _both(_drop_ns("network"), _set("linux.sysctl", {"net.ipv4.ip_forward": "1"})),
     "linux.sysctl.net.ipv4.ip_forward", "network namespace"),
    ("net sysctl in host netns", _both(lambda c: _ns(c, "network", "/proc/self/ns/net"),
                                       _set("linux.sysctl", {"net/ipv4/ip_forward": "1"})),
     "linux.sysctl.net/ipv4/ip_forward", "host's network namespace"),
    ("ipc sysctl w/o ipcns", _both(_drop_ns("ipc"), _set("linux.sysctl", {"kernel.shmmax": "1"})),
     "linux.sysctl.kernel.shmmax", "IPC"),
    ("mqueue sysctl w/o ipcns", _both(_drop_ns("ipc"), _set("linux.sysctl", {"fs.mqueue.msg_max": "1"})),
     "linux.sysctl.fs.mqueue.msg_max", "IPC"),
    ("kernel.hostname sysctl", _set("linux.sysctl", {"kernel.hostname": "x"}),
     "linux.sysctl.kernel.hostname", "hostname field"),
    ("host-wide sysctl", _set("linux.sysctl", {"vm.swappiness": "1"}), "linux.sysctl.vm.swappiness", "namespace"),
    ("unknown rlimit", _set("process.rlimits", [{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}]),
     "process.rlimits[0].type", "unknown rlimit"),
    ("duplicate rlimit", _set("process.rlimits", [{"type": "RLIMIT_CORE", "soft": 1, "hard": 1}] * 2),
     "process.rlimits[1].type", "duplicate"),
    ("soft above hard", _set("process.rlimits", [{"type": "RLIMIT_CORE", "soft": 2, "hard": 1}]),
     "process.rlimits[0].soft", "above the hard"),
    ("unknown capability", _set("process.capabilities.effective", ["CAP_KILL", "CAP_FLY"]),
     "process.capabilities.effective[1]", "CAP_FLY"),
    ("oomScoreAdj range", _set("process.oomScoreAdj", 1001), "process.oomScoreAdj", "-1000 and 1000"),
    ("ioPriority range", _set("process.ioPriority", {"class": "IOPRIO_CLASS_BE", "priority": 8}),
     "process.ioPriority.priority", "0 and 7"),
    ("scheduler nice", _set("process.scheduler", {"policy": "SCHED_OTHER", "nice": 20}),
     "process.scheduler.nice", "-20 and 19"),
    ("scheduler priority", _set("process.scheduler", {"policy": "SCHED_OTHER", "priority": 1}),
     "process.scheduler.priority", "SCHED_FIFO"),
    ("scheduler runtime", _set("process.scheduler", {"policy": "SCHED_RR", "runtime": 1}),
     "process.scheduler.runtime", "SCHED_DEADLINE"),
    ("relative hook", _set("hooks", {"createRuntime": [{"path": "bin/hook"}]}),
     "hooks.createRuntime[0].path", "absolute"),
    ("char device w/o major", _set("linux.devices", [{"type": "c", "path": "/dev/x", "minor": 1}]),
     "linux.devices[0].major", "required"),
    ("relative device", _set("linux.devices", [{"type": "p", "path": "dev/fifo"}]),
     "linux.devices[0].path", "absolute"),
    ("notify w/o listener", _set("linux.seccomp", {"defaultAction": "SCMP_ACT_ALLOW",
                                                   "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
     "linux.seccomp.listenerPath", "SCMP_ACT_NOTIFY"),
    ("notify default", _set("linux.seccomp", {"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"}),
     "linux.seccomp.defaultAction", "default action"),
    ("netDevices w/o netns", _both(_drop_ns("network"), _set("linux.netDevices", {"eth0": {}})),
     "linux.netDevices", "network namespace"),
    ("bad netDevice name", _set("linux.netDevices", {"eth0": {"name": "a/b"}}),
     "linux.netDevices.eth0.name", "interface name"),
    ("intelRdt closID", _set("linux.intelRdt", {"closID": ".."}), "linux.intelRdt.closID", "'..'"),
    ("idmapped non-bind mount", _both(_set("mounts.0.uidMappings", _MAPPING), _set("mounts.0.gidMappings", _MAPPING)),
     "mounts[0]", "bind mounts only"),
    ("idmapped mount w/o gidMappings", _set("mounts.6", {"destination": "/v", "type": "bind", "source": "/tmp",
                                                          "options": ["rbind"], "uidMappings": _MAPPING}),
     "mounts[6].gidMappings", "both uidMappings and gidMappings"),
    ("idmapped mount, size 0", _set("mounts.6", {"destination": "/v", "type": "bind", "source": "/tmp",
                                                  "options": ["rbind"], "uidMappings": _MAPPING,
                                                  "gidMappings": [{"containerID": 0, "hostID": 1, "size": 0}]}),
     "mounts[6].gidMappings[0].size", "at least 1"),
    ("idmap w/o mappings or userns", _set("mounts.6", {"destination": "/v", "type": "bind", "source": "/tmp",
                                                        "options": ["rbind", "ridmap"]}),
     "mounts[6].options", "no user namespace"),
]  # fmt: skip


@pytest.mark.parametrize(
    "change,field,fragment", [c[1:] for c in SEMANTIC_CASES], ids=[c[0] for c in SEMANTIC_CASES]
)
def test_create_time_checks_fire(bundle: Path, change: Mutator, field: str, fragment: str) -> None:
    config = default_spec()
    change(config)
    write(bundle, config)
    # the config itself is schema-valid: only the runtime's own checks refuse it
    assert official_validator("config").is_valid(config)
    with pytest.raises(ConfigError) as exc:
        load_config(str(bundle))
    text = one_line(exc.value)
    assert exc.value.field == field, text
    assert fragment in text, text
    assert text in validate_bundle(str(bundle))
    # without the checks, the same bundle loads
    assert load_config(str(bundle), check=False)["ociVersion"] == "1.3.0"


@pytest.fixture
def private_netns() -> Iterator[str]:
    """A real network namespace, held by a sleeping process."""
    if os.geteuid() != 0:
        pytest.skip("creating a network namespace needs root here")
    proc = subprocess.Popen(["unshare", "--net", "sleep", "300"])
    try:
        path = f"/proc/{proc.pid}/ns/net"
        for _ in range(200):
            if os.stat(path).st_ino != os.stat("/proc/self/ns/net").st_ino:
                break
            os.sched_yield()
            subprocess.run(["true"])
        yield path
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def test_joined_private_netns_allows_net_sysctls(bundle: Path, private_netns: str) -> None:
    config = default_spec()
    _ns(config, "network", private_netns)
    config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "4096",
                                 "kernel.domainname": "x"}  # fmt: skip
    write(bundle, config)
    loaded = load_config(str(bundle))
    assert loaded["linux"]["namespaces"][-1] == {"type": "network", "path": private_netns}


def test_valid_user_namespace_and_absolute_root(bundle: Path) -> None:
    config = default_spec(rootless=True)
    config["root"]["path"] = str(bundle / "rootfs")
    config["linux"]["timeOffsets"] = {"monotonic": {"secs": 5, "nanosecs": 0}}
    config["linux"]["namespaces"].append({"type": "time"})
    write(bundle, config)
    assert load_config(str(bundle)) == config


def test_relative_mount_destination_is_a_warning(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mutated(bundle, _set("mounts.3.destination", "dev/shm"))
    loaded = load_config(str(bundle))
    assert loaded["mounts"][3]["destination"] == "dev/shm"
    # warnings go through pyrunc.log (stderr, or the --log file)
    assert "mounts[3].destination" in capsys.readouterr().err
    from pyrunc import log

    seen: list[str] = []
    old = log.warn
    try:
        log.warn = seen.append  # type: ignore[assignment]
        load_config(str(bundle))
    finally:
        log.warn = old  # type: ignore[assignment]
    assert any("mounts[3].destination" in m for m in seen)
    assert validate_bundle(str(bundle)) == [
        "warning: mounts[3].destination: relative destination 'dev/shm' is deprecated, "
        "it is taken as relative to /"
    ]


def test_validate_lists_every_problem(bundle: Path) -> None:
    config = default_spec()
    config["process"]["cwd"] = "rel"
    config["process"]["args"] = []
    config["linux"]["namespaces"].append({"type": "pid"})
    config["mounts"][1]["options"] = "nosuid"
    write(bundle, config)
    lines = validate_bundle(str(bundle))
    assert lines[0] == "mounts[1].options: input should be a valid list, got \"nosuid\""
    assert "process.cwd: must be an absolute path, got 'rel'" in lines
    assert "process.args: must not be empty" in lines
    assert "linux.namespaces[5].type: duplicate namespace 'pid'" in lines
    assert all("\n" not in line for line in lines)


def test_validate_unreadable_bundle(tmp_path: Path) -> None:
    assert validate_bundle(str(tmp_path / "x")) == [f"{tmp_path / 'x'}: bundle does not exist"]
    (tmp_path / "config.json").write_text("{")
    (line,) = validate_bundle(str(tmp_path))
    assert "malformed JSON at 1:2" in line


# --- exec --process -----------------------------------------------------------


def test_load_process(tmp_path: Path) -> None:
    good = {"cwd": "/", "args": ["ls"], "env": ["A=b"], "extra": 1}
    (tmp_path / "p.json").write_text(json.dumps(good))
    assert load_process(str(tmp_path / "p.json")) == {"cwd": "/", "args": ["ls"], "env": ["A=b"]}
    for doc, field in (({"args": ["ls"]}, "process.cwd"), ({"cwd": "x", "args": ["ls"]}, "process.cwd"),
                       ({"cwd": "/", "args": []}, "process.args"),
                       ({"cwd": "/", "args": ["ls"], "user": {"uid": "0"}}, "process.user.uid")):  # fmt: skip
        (tmp_path / "p.json").write_text(json.dumps(doc))
        with pytest.raises(ConfigError) as exc:
            load_process(str(tmp_path / "p.json"))
        assert exc.value.field == field, one_line(exc.value)
    with pytest.raises(BundleError) as berr:
        load_process(str(tmp_path / "missing.json"))
    assert str(tmp_path / "missing.json") in one_line(berr.value)


# --- default spec -------------------------------------------------------------


@pytest.mark.parametrize("rootless", [False, True])
def test_default_spec_is_valid(rootless: bool) -> None:
    spec = default_spec(rootless=rootless)
    official_validator("config").validate(spec)
    assert spec["ociVersion"] == "1.3.0"
    assert spec["process"]["args"] == ["sh"] and spec["process"]["terminal"] is True
    assert default_spec(rootless) is not default_spec(rootless)


def test_default_rootless_shape() -> None:
    spec = default_spec(rootless=True)
    kinds = [n["type"] for n in spec["linux"]["namespaces"]]
    assert "user" in kinds and "network" not in kinds
    assert spec["linux"]["uidMappings"] == [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    assert spec["linux"]["gidMappings"] == [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
    assert "resources" not in spec["linux"]
    sys_mount = next(m for m in spec["mounts"] if m["destination"] == "/sys")
    assert sys_mount["source"] == "/sys" and "rbind" in sys_mount["options"]
    assert not any(o.startswith(("uid=", "gid=")) for m in spec["mounts"] for o in m.get("options", []))


def _key_paths(node: Any, prefix: str = "") -> set[str]:
    out = {prefix} if prefix else set()
    if isinstance(node, dict):
        for k, v in node.items():
            out |= _key_paths(v, f"{prefix}.{k}" if prefix else k)
    elif isinstance(node, list):
        for v in node:
            out |= _key_paths(v, f"{prefix}[]")
    return out


# runc <= 1.1 also filled the ambient set; runc 1.2 dropped it, and so does pyrunc.
_RUNC_ONLY = {"process.capabilities.ambient", "process.capabilities.ambient[]"}


@pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed")
@pytest.mark.parametrize("rootless", [False, True])
def test_default_spec_matches_runc_keys(tmp_path: Path, rootless: bool) -> None:
    args = ["runc", "spec", "--bundle", str(tmp_path)] + (["--rootless"] if rootless else [])
    subprocess.run(args, check=True)
    runc = json.loads((tmp_path / "config.json").read_text())
    ours = default_spec(rootless=rootless)
    assert _key_paths(runc) - _RUNC_ONLY == _key_paths(ours)
    # the same mounts, namespaces and paths, in the same order
    assert [m["destination"] for m in runc["mounts"]] == [m["destination"] for m in ours["mounts"]]
    assert runc["linux"]["namespaces"] == ours["linux"]["namespaces"]
    assert set(runc["linux"]["maskedPaths"]) <= set(ours["linux"]["maskedPaths"])
    assert runc["linux"]["readonlyPaths"] == ours["linux"]["readonlyPaths"]


@pytest.mark.parametrize("module", ["pyrunc.spec.default", "pyrunc.spec.load", "pyrunc.spec.semantic"])
def test_cheap_imports(module: str) -> None:
    code = f"import sys, {module}; print(sorted(m for m in ('pydantic', 'jsonschema') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("value", ["rprivate", "rshared", "rslave", "runbindable"])
def test_recursive_rootfs_propagation_is_accepted_with_a_validate_warning(bundle: Path, value: str) -> None:
    """runc and crun accept the recursive forms (containerd's CRI plugin sends
    rslave/rshared); the official schema does not: create takes them silently,
    `validate` warns."""
    mutated(bundle, _set("linux.rootfsPropagation", value))
    assert load_config(str(bundle))["linux"]["rootfsPropagation"] == value
    assert not official_validator("config").is_valid(json.loads((bundle / "config.json").read_text()))
    lines = validate_bundle(str(bundle))
    assert lines == [f"warning: linux.rootfsPropagation: {value!r} is outside the runtime-spec schema "
                     "(private, shared, slave, unbindable); runc and crun accept it"]


def test_no_mount_namespace_without_masks_is_accepted(bundle: Path) -> None:
    def change(c: dict[str, Any]) -> None:
        _drop_ns("mount")(c)
        c["linux"].pop("maskedPaths", None)
        c["linux"].pop("readonlyPaths", None)

    mutated(bundle, change)
    load_config(str(bundle))
    assert validate_bundle(str(bundle)) == []


def test_tmpcopyup_outside_tmpfs_is_reported_by_validate(bundle: Path) -> None:
    def change(c: dict[str, Any]) -> None:
        c["mounts"].append({"destination": "/x", "type": "bind", "source": "/tmp", "options": ["rbind", "tmpcopyup"]})
        c["mounts"].append({"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]})

    mutated(bundle, change)
    n = len(json.loads((bundle / "config.json").read_text())["mounts"])
    assert validate_bundle(str(bundle)) == [
        f"mounts[{n - 2}].options: tmpcopyup applies to tmpfs mounts only, not to a bind mount"]
    with pytest.raises(ConfigError) as e:
        load_config(str(bundle))
    assert e.value.field == f"mounts[{n - 2}].options"
