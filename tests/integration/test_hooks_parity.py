"""Hooks' environment and working directory, and ambient capabilities the
kernel cannot raise, side by side with runc (Debian's 1.1.5) on the same
bundle.

What runc does, measured here:
- a hook without `env` inherits the runtime's environment; with `env`,
  exactly that list (`[]`: empty);
- `create` and `run` chdir into the bundle: prestart, createRuntime and
  poststart hooks run there (runc 1.1 runs poststart from `create`; pyrunc
  runs it at `start`, as runtime-spec 1.3.0 says, but in the same
  directory); createContainer runs in the rootfs (host path, before
  pivot_root) and startContainer in process.cwd; both get process.env
  (startContainer with HOME), since runc 1.1 runs them from its init whose
  environment is the container's by then;
- poststop runs where `delete` was called (in the bundle under `run`);
- ambient capabilities outside permitted and inheritable are skipped with
  a warning, not refused (runc 1.1's `runc spec` config has such caps)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.conftest import new_id

KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
# set by the shell that runs a hook, not by the runtime
SHELL_VARS = {"PWD", "OLDPWD", "SHLVL", "_"}
MARKER = "PYRUNC_HOOK_PARITY"


def _hook(kind: str, out: str, env: list[str] | None) -> dict:
    """Writes its env and cwd to `out`, and a file at a relative path."""
    script = f"env | sort > {out}/{kind}.env; pwd > {out}/{kind}.pwd; echo {kind} > rel-{kind}"
    h: dict = {"path": "/bin/sh", "args": ["sh", "-c", script]}
    if env is not None:
        h["env"] = env
    return h


def _bundle(make_bundle, out: Path, env: list[str] | None):
    def edit(c):
        c["root"]["readonly"] = False
        c["process"]["cwd"] = "/tmp"
        c["process"]["env"] = ["PATH=/usr/bin:/bin", "CTRVAR=in-container"]
        c["mounts"].append({"destination": "/out", "type": "bind", "source": str(out), "options": ["rbind", "rw"]})
        c["hooks"] = {k: [_hook(k, "/out" if k == "startContainer" else str(out), env)] for k in KINDS}

    return make_bundle(["true"], edit=edit)


def _read_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs if k not in SHELL_VARS}


class Seen:
    """What each hook saw, with the run's own paths replaced by names."""

    def __init__(self, out: Path, names: dict[str, str]) -> None:
        self.cwd: dict[str, str] = {}
        self.env: dict[str, dict[str, str]] = {}
        self.rel: dict[str, bool] = {}
        self.names = names
        for kind in KINDS:
            cwd = (out / f"{kind}.pwd").read_text().strip()
            self.env[kind] = _read_env(out / f"{kind}.env")
            self.cwd[kind] = self._name(cwd)
            where = Path(names["BUNDLE"]) / "rootfs" / cwd.lstrip("/") if kind == "startContainer" else Path(cwd)
            self.rel[kind] = (where / f"rel-{kind}").read_text().strip() == kind

    def _name(self, path: str) -> str:
        for name, real in sorted(self.names.items(), key=lambda kv: -len(kv[1])):
            if path == real or path.startswith(real + "/"):
                return name + path[len(real):]
        return path


def _lifecycle(rt, make_bundle, tmp_path: Path, tag: str, env: list[str] | None, use_run: bool) -> Seen:
    out = tmp_path / f"out-{tag}"
    out.mkdir()
    b = _bundle(make_bundle, out, env)
    callers = {name: tmp_path / f"{tag}-{name}" for name in ("CREATE", "START", "DELETE")}
    for d in callers.values():
        d.mkdir()
    penv = dict(os.environ, **{MARKER: "caller"})
    cid = new_id("hp")
    if use_run:
        p = rt("run", "-b", str(b.path), cid, cwd=callers["CREATE"], env=penv)
        assert p.returncode == 0, p.stderr
    else:
        for args, d in ((("create", "-b", str(b.path), cid), "CREATE"), (("start", cid), "START")):
            p = rt(*args, cwd=callers[d], env=penv)
            assert p.returncode == 0, p.stderr
        for _ in range(500):  # `true` exits at once
            if rt.state(cid)["status"] == "stopped":
                break
            time.sleep(0.02)
        p = rt("delete", cid, cwd=callers["DELETE"], env=penv)
        assert p.returncode == 0, p.stderr
    names = {"BUNDLE": str(b.path), **{k: str(v) for k, v in callers.items()}}
    return Seen(out, names)


@pytest.mark.parametrize("use_run", [False, True], ids=["create-start-delete", "run"])
def test_hooks_without_env_cwd_and_env_as_runc(pyrunc, runc, make_bundle, tmp_path, use_run):
    ours = _lifecycle(pyrunc, make_bundle, tmp_path, "pyrunc", None, use_run)
    theirs = _lifecycle(runc, make_bundle, tmp_path, "runc", None, use_run)

    assert ours.cwd == theirs.cwd
    expected = {"prestart": "BUNDLE", "createRuntime": "BUNDLE", "poststart": "BUNDLE",
                "createContainer": "BUNDLE/rootfs", "startContainer": "/tmp",
                "poststop": "BUNDLE" if use_run else "DELETE"}
    assert ours.cwd == expected
    # a relative path lands in the same place under both
    assert all(ours.rel.values()) and all(theirs.rel.values())

    for kind in ("prestart", "createRuntime", "poststart", "poststop"):
        # the runtime's own environment: the caller's, marker included
        assert ours.env[kind].get(MARKER) == "caller", kind
        assert theirs.env[kind].get(MARKER) == "caller", kind
        assert set(ours.env[kind]) == set(theirs.env[kind]), kind
    for kind in ("createContainer", "startContainer"):
        assert MARKER not in ours.env[kind]
        assert ours.env[kind] == theirs.env[kind], kind
    assert ours.env["createContainer"] == {"PATH": "/usr/bin:/bin", "CTRVAR": "in-container"}
    assert ours.env["startContainer"] == {"PATH": "/usr/bin:/bin", "CTRVAR": "in-container", "HOME": "/root"}


@pytest.mark.parametrize("env", [["ONLY=this"], []], ids=["list", "empty"])
def test_hooks_with_env_get_exactly_that_list(pyrunc, runc, make_bundle, tmp_path, env):
    ours = _lifecycle(pyrunc, make_bundle, tmp_path, "pyrunc", env, False)
    theirs = _lifecycle(runc, make_bundle, tmp_path, "runc", env, False)
    want = dict(e.split("=", 1) for e in env)
    for kind in KINDS:
        seen = {k: v for k, v in ours.env[kind].items() if k != "PATH" or "PATH" in want}
        assert seen == want, kind
        assert ours.env[kind] == theirs.env[kind], kind


# runc 1.1's `runc spec` capabilities: ambient without inheritable
RUNC_SPEC_CAPS = {k: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
                  for k in ("bounding", "effective", "permitted", "ambient")}


@pytest.mark.parametrize("uid", [0, 1000])
def test_ambient_caps_not_inheritable_are_skipped_as_runc(pyrunc, runc, make_bundle, uid):
    def edit(c):
        c["process"]["capabilities"] = RUNC_SPEC_CAPS
        c["process"]["user"] = {"uid": uid, "gid": uid}

    seen = {}
    for name, rt in (("pyrunc", pyrunc), ("runc", runc)):
        b = make_bundle(["sh", "-c", "grep ^Cap /proc/self/status"], edit=edit)
        p = rt("run", "-b", str(b.path), new_id("cp"))
        assert p.returncode == 0, p.stderr
        seen[name] = p.stdout
        if name == "pyrunc":
            warned = [l for l in p.stderr.splitlines() if "process.capabilities.ambient" in l]
            assert len(warned) == 3 and all("skipped" in l for l in warned), p.stderr
    assert seen["pyrunc"] == seen["runc"]
    assert "CapAmb:\t0000000000000000" in seen["pyrunc"]
