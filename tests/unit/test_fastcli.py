"""The click-free fast path of the command line (pyrunc/fastcli.py): it must
accept exactly what the click commands declare, parse it the same way, and
leave everything else to click."""
from __future__ import annotations

import click
import pytest

from pyrunc import cli, fastcli


def _click_command(name: str) -> click.Command:
    ctx = click.Context(cli.main)
    cmd = cli.main.get_command(ctx, name)
    assert cmd is not None
    return cmd


def _declared(params: list[click.Parameter], ctx: click.Context) -> tuple[dict[str, tuple[str, object]], dict[str, object], list]:
    options: dict[str, tuple[str, object]] = {}
    defaults: dict[str, object] = {}
    positionals = []
    for p in params:
        if isinstance(p, click.Option):
            if not p.expose_value:
                continue
            if p.is_flag:
                kind: object = fastcli.FLAG
            elif isinstance(p.type, click.Choice):
                kind = tuple(p.type.choices)
            elif isinstance(p.type, click.IntRange):
                assert p.type.min == 0 and p.type.max is None
                kind = fastcli.COUNT
            else:
                assert p.type is click.STRING, p
                kind = fastcli.VALUE
            for spelling in p.opts:
                options[spelling] = (p.name, kind)
            defaults[p.name] = p.get_default(ctx)
        else:
            positionals.append((p.name, fastcli.REQUIRED if p.required else p.get_default(ctx)))
    return options, defaults, positionals


@pytest.mark.parametrize("name", sorted(fastcli.VERBS))
def test_verb_table_matches_the_click_command(name):
    cmd = _click_command(name)
    options, defaults, positionals = _declared(cmd.params, click.Context(cmd))
    verb = fastcli.VERBS[name]
    assert verb.options == options
    assert verb.defaults == defaults
    assert list(verb.positionals) == positionals


def test_global_table_matches_the_click_group():
    options, defaults, positionals = _declared(cli.main.params, click.Context(cli.main))
    # handled by click only: the fast path falls back on them
    for fallback in ("-v", "--version"):
        options.pop(fallback, None)
    assert fastcli.GLOBAL_OPTIONS == options
    assert fastcli.GLOBAL_DEFAULTS == defaults
    assert positionals == []


def test_every_fast_verb_is_a_cli_command():
    assert set(fastcli.VERBS) <= set(cli.COMMANDS)


def test_parse_what_containerd_sends():
    args = ["--root", "/run/r", "--log", "/x/log.json", "--log-format", "json", "create", "--bundle", "/b",
            "--pid-file", "/b/init.pid", "abc"]
    g, name, kw = fastcli.parse(args)
    assert name == "create"
    assert g == {"root": "/run/r", "log_file": "/x/log.json", "log_format": "json", "debug": False,
                 "rootless": "auto", "criu": None, "systemd_cgroup": False}
    assert kw == {"bundle": "/b", "console_socket": None, "pidfd_socket": None, "pid_file": "/b/init.pid", "no_pivot": False,
                  "no_new_keyring": False, "preserve_fds": 0, "container_id": "abc"}


@pytest.mark.parametrize("args, name, expected", [
    (["delete", "--force", "c"], "delete", {"force": True, "container_id": "c"}),
    (["delete", "c", "-f"], "delete", {"force": True, "container_id": "c"}),  # options after arguments
    (["kill", "c"], "kill", {"all_": False, "container_id": "c", "signal": "SIGTERM"}),
    (["kill", "--all", "c", "9"], "kill", {"all_": True, "container_id": "c", "signal": "9"}),
    (["--root=/r", "state", "c"], "state", {"container_id": "c"}),
    (["list", "--format=json", "-q"], "list", {"fmt": "json", "quiet": True}),
    (["list", "-f", "table", "-f", "json"], "list", {"fmt": "json", "quiet": False}),  # the last one wins
    (["create", "-b", "/b", "--preserve-fds", "2", "c"], "create",
     {"bundle": "/b", "console_socket": None, "pidfd_socket": None, "pid_file": None, "no_pivot": False, "no_new_keyring": False,
      "preserve_fds": 2, "container_id": "c"}),
    (["run", "-d", "--bundle", "/b", "c"], "run",
     {"bundle": "/b", "console_socket": None, "pidfd_socket": None, "pid_file": None, "no_pivot": False, "no_new_keyring": False,
      "preserve_fds": 0, "detach": True, "keep": False, "no_subreaper": False, "container_id": "c"}),
])
def test_parse_accepts(args, name, expected):
    parsed = fastcli.parse(args)
    assert parsed is not None
    assert parsed[1] == name
    assert parsed[2] == expected


@pytest.mark.parametrize("args", [
    [], ["--help"], ["state", "--help"], ["-h"], ["--version"], ["-v"],
    ["state"], ["state", "a", "b"],               # missing / extra argument
    ["delete", "--force=1", "c"],                 # a flag given a value
    ["delete", "-fq", "c"], ["delete", "-x", "c"],  # unknown option
    ["--log-format", "yaml", "state", "c"],       # bad choice
    ["list", "--format", "xml"],
    ["create", "--preserve-fds", "-1", "c"], ["create", "--preserve-fds", "x", "c"],
    ["create", "--bundle"],                       # option without its value
    ["run", "-d", "--keep", "c"],                 # click's usage error
    ["exec", "c", "ls"], ["ps", "c"], ["update", "c"], ["spec"], ["features"],  # not fast verbs
    ["--root", "/r"],                             # no command
])
def test_parse_leaves_to_click(args):
    assert fastcli.parse(args) is None


def test_dispatch_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("PYRUNC_NO_FASTCLI", "1")
    assert fastcli.dispatch(["state", "c"]) is None
