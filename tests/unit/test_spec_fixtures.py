"""Every official runtime-spec fixture gets the same verdict from pyrunc's model,
pyrunc's generated schema and the official schema, and that verdict is the
fixture's folder (good/bad).  Random mutations of real documents must get one
verdict from all three as well."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyrunc.spec.default import default_spec
from spec_oracles import OFFICIAL, verdicts

FIXTURES = OFFICIAL / "fixtures"
NON_LINUX = ("windows", "solaris", "vm", "zos", "freebsd")


def _fixtures() -> list[Any]:
    params = []
    for path in sorted(FIXTURES.glob("*/*/*.json")):
        kind, folder = path.parent.parent.name, path.parent.name
        marks = []
        try:
            doc = json.loads(path.read_text())
        except ValueError:
            doc = None
        platforms = [k for k in NON_LINUX if isinstance(doc, dict) and k in doc]
        platforms += [k for k in NON_LINUX if path.name.startswith(k + "-") and k not in platforms]
        if platforms:
            marks.append(
                pytest.mark.skip(
                    reason=f"non-Linux fixture ({', '.join(platforms)}): pyrunc is a Linux "
                    "runtime, its model ignores other platforms' sections as config.md lets it"
                )
            )
        params.append(pytest.param(kind, folder, path, id=f"{kind}/{folder}/{path.name}", marks=marks))
    return params


def test_fixtures_present() -> None:
    # the parametrization below must not silently shrink to nothing
    assert len(list(FIXTURES.glob("*/*/*.json"))) >= 15


@pytest.mark.parametrize("kind,folder,path", _fixtures())
def test_fixture_verdicts_agree(kind: str, folder: str, path: Path) -> None:
    expected = folder == "good"
    try:
        doc = json.loads(path.read_text())
    except ValueError:
        # Not JSON at all: nothing can accept it, and loading it must fail.
        assert not expected, f"{path} is in good/ but is not JSON"
        return
    got = verdicts(kind, doc)
    assert got == dict.fromkeys(got, expected), f"{path.name}: {got}, expected {expected}"


# --- mutations: the three validators agree on documents near real ones -------

_SEEDS = {
    "config": [
        json.loads((FIXTURES / "config/good/spec-example.json").read_text()),
        default_spec(),
        default_spec(rootless=True),
        {
            "ociVersion": "1.3.0",
            "process": {
                "cwd": "/",
                "user": {"uid": 0, "gid": 0, "umask": 18},
                "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4},
                "scheduler": {"policy": "SCHED_DEADLINE", "runtime": 1, "flags": ["SCHED_FLAG_RECLAIM"]},
                "execCPUAffinity": {"initial": "0-1", "final": "0"},
                "consoleSize": {"height": 24, "width": 80},
            },
            "mounts": [
                {
                    "destination": "/m",
                    "source": "/src",
                    "options": ["rbind"],
                    "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                    "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                }
            ],
            "linux": {
                "resources": {
                    "unified": {"memory.high": "max"},
                    "rdma": {"mlx5_1": {"hcaHandles": 3}},
                    "cpu": {"idle": 1, "burst": 5},
                    "memory": {"checkBeforeUpdate": True},
                },
                "seccomp": {
                    "defaultAction": "SCMP_ACT_ERRNO",
                    "defaultErrnoRet": 1,
                    "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                    "listenerPath": "/run/l.sock",
                    "listenerMetadata": "x",
                    "syscalls": [
                        {
                            "names": ["read"],
                            "action": "SCMP_ACT_NOTIFY",
                            "args": [{"index": 0, "value": 1, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}],
                        }
                    ],
                },
                "intelRdt": {"closID": "c", "memBwSchema": "MB:0=20", "schemata": ["L3:0=f"]},
                "memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]},
                "personality": {"domain": "LINUX32", "flags": []},
                "netDevices": {"eth0": {"name": "e0"}},
                "devices": [{"type": "p", "path": "/dev/fifo", "fileMode": 420}],
            },
        },
    ],
    "state": [json.loads((FIXTURES / "state/good/spec-example.json").read_text())],
    "features": [json.loads((FIXTURES / "features/good/runc.json").read_text())],
}

_REPLACEMENTS = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, 1, -1, 7, 511, 512, 65535, 65536, 2**31, -(2**31) - 1, 2**32, 2**63,
                     -(2**63) - 1, 2**64 - 1, 2**64, 1.0, 0.5, -1000, 1001]),
    st.sampled_from(["", "x", "1", "rootfs", "/abs", "pid", "time", "RLIMIT_CPU", "RLIMIT_cpu",
                     "RLIMIT_NOFILE\n", "SCMP_ACT_KILL", "SCMP_ACT_BOGUS", "2MB", "64kB", "MB:x",
                     "MB:\n", "CAP_SYS_ADMIN", "cap_x", "c", "cb", "0-3,5", "a-b", "LINUX",
                     "IOPRIO_CLASS_IDLE", "SCHED_FIFO", "running", "paused"]),
    st.just([]),
    st.just({}),
    st.just(["x"]),
    st.just([{}]),
)  # fmt: skip


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


@st.composite
def _mutated(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(st.sampled_from(["config", "config", "config", "state", "features"]))
    doc = copy.deepcopy(draw(st.sampled_from(_SEEDS[kind])))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and draw(st.booleans()) and draw(st.booleans()):
            del parent[path[-1]]  # drop a field (required ones must be missed)
        else:
            parent[path[-1]] = copy.deepcopy(draw(_REPLACEMENTS))
    return kind, doc


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_mutated_documents_get_one_verdict(case: tuple[str, Any]) -> None:
    kind, doc = case
    got = verdicts(kind, doc)
    assert len(set(got.values())) == 1, f"{kind}: {got} for {json.dumps(doc)[:2000]}"


def test_seeds_are_valid() -> None:
    for kind, docs in _SEEDS.items():
        for doc in docs:
            assert all(verdicts(kind, doc).values()), (kind, doc)


# --- hand-picked edges where a lax model and the schema would part ways -------


def _cfg(**fields: Any) -> dict[str, Any]:
    return {"ociVersion": "1.3.0", **fields}


def _proc(**fields: Any) -> dict[str, Any]:
    return _cfg(process={"cwd": "/", **fields})


EDGES: list[tuple[str, Any, bool]] = [
    ("u64 max", _proc(rlimits=[{"type": "RLIMIT_CPU", "soft": 2**64 - 1, "hard": 2**64 - 1}]), True),
    ("u64 overflow", _proc(rlimits=[{"type": "RLIMIT_CPU", "soft": 2**64, "hard": 1}]), False),
    ("int as float", _proc(oomScoreAdj=5.0), False),
    ("int as string", _proc(user={"uid": "0"}), False),
    ("bool as int", _proc(user={"uid": True}), False),
    ("int as bool", _proc(terminal=1), False),
    ("null optional", _proc(env=None), False),
    ("unbounded oomScoreAdj", _proc(oomScoreAdj=-(2**70)), True),
    ("int64 min", _cfg(linux={"resources": {"memory": {"limit": -(2**63)}}}), True),
    ("int64 under", _cfg(linux={"resources": {"memory": {"limit": -(2**63) - 1}}}), False),
    ("fileMode 511", _cfg(linux={"devices": [{"type": "c", "path": "/d", "fileMode": 511}]}), True),
    ("fileMode past uint32", _cfg(linux={"devices": [{"type": "c", "path": "/d", "fileMode": 2**32}]}), False),
    ("pattern before final newline", _proc(rlimits=[{"type": "RLIMIT_CPU\n", "soft": 1, "hard": 1}]), True),
    ("pattern lower case", _proc(rlimits=[{"type": "RLIMIT_cpu", "soft": 1, "hard": 1}]), False),
    ("empty annotation key, any value", _cfg(annotations={"": 5}), True),
    ("annotation value not a string", _cfg(annotations={"k": 5}), False),
    ("hook timeout 0", _cfg(hooks={"poststop": [{"path": "/x", "timeout": 0}]}), False),
    ("syscall names empty", _cfg(linux={"seccomp": {"defaultAction": "SCMP_ACT_LOG",
                                                    "syscalls": [{"names": [], "action": "SCMP_ACT_LOG"}]}}), False),
    ("unknown fields anywhere", _proc(x=1, user={"y": [None]}, capabilities={"z": {}}), True),
    ("other platform section", _cfg(solaris={"milestone": "x"}), True),
    ("root object", [], False),
    ("consoleSize partial", _proc(consoleSize={"height": 1}), False),
    ("ioPriority no class", _proc(ioPriority={"priority": 1}), False),
    ("execCPUAffinity letters", _proc(execCPUAffinity={"initial": "a"}), False),
    ("memBwSchema", _cfg(linux={"intelRdt": {"memBwSchema": "L3:0=1"}}), False),
    ("state paused", {"ociVersion": "1", "id": "a", "status": "paused", "bundle": "/b"}, False),
]  # fmt: skip


@pytest.mark.parametrize("mode", [512, 0o20666, 0o60600])
def test_device_file_mode_past_the_schema_is_runcs_extension(mode: int) -> None:
    """The one deliberate difference with the official schema (0-511): runc
    takes any uint32 fileMode and drops the file type bits, and podman
    --privileged sends the host nodes' st_mode (0o20666 for /dev/full)."""
    doc = _cfg(linux={"devices": [{"type": "c", "path": "/d", "major": 1, "minor": 7, "fileMode": mode}]})
    assert verdicts("config", doc) == {
        "model": True, "compiled": True, "generated schema": True, "official schema": False
    }  # fmt: skip


@pytest.mark.parametrize("doc,expected", [e[1:] for e in EDGES], ids=[e[0] for e in EDGES])
def test_edges(doc: Any, expected: bool) -> None:
    kind = "state" if isinstance(doc, dict) and "status" in doc else "config"
    assert verdicts(kind, doc) == {
        "model": expected, "compiled": expected, "generated schema": expected, "official schema": expected
    }  # fmt: skip
