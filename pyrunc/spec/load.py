"""Loading and validating a bundle's config.json and exec's process.json.

`load_config(bundle)` returns the validated document as a plain JSON-shaped
dict with the spec's field names: only the fields the document held (nothing
defaulted, no nulls), unknown properties and other platforms' sections
dropped, as config.md asks a runtime to ignore them.

Errors are one line: BundleError for an unusable bundle or file (names the
path), ConfigError for bad JSON (line:col) or a field that breaks the schema
or a create-time rule (names the JSON path, e.g. `mounts[2].destination`).

pydantic is imported lazily, inside the functions that validate.
"""
from __future__ import annotations

import os

from pyrunc import jsontext

TYPE_CHECKING = False  # `typing` and `json` cost ~6 ms of every create
if TYPE_CHECKING:
    from typing import Any

from pyrunc.errors import BundleError, ConfigError

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

    from pyrunc.spec.semantic import Problem


CONFIG_NAME = "config.json"


def json_path(loc: tuple[int | str, ...]) -> str:
    """('mounts', 2, 'destination') -> 'mounts[2].destination'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def read_json(path: str, what: str = "config") -> Any:
    """Read and parse a JSON file; BundleError if unreadable, ConfigError if not JSON."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise BundleError(path, f"{what} file does not exist") from None
    except IsADirectoryError:
        raise BundleError(path, f"{what} file is a directory") from None
    except OSError as e:
        raise BundleError(path, f"cannot read {what} file: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(path, f"not UTF-8 at byte {e.start}") from None
    try:
        return jsontext.loads(text)
    except ValueError as e:  # json.JSONDecodeError, raised by json itself
        raise ConfigError(path, f"malformed JSON at {getattr(e, 'lineno', '?')}:{getattr(e, 'colno', '?')}: "
                                f"{getattr(e, 'msg', e)}") from None


def _describe(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "required field is missing"
    msg = str(error.get("msg", "invalid"))
    msg = msg.removeprefix("Value error, ")
    msg = msg[:1].lower() + msg[1:]
    if kind in ("literal_error", "string_pattern_mismatch") or kind.endswith(("_type", "_parsing")):
        import json  # an error path

        shown = json.dumps(error.get("input"), default=str)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        msg += f", got {shown}"
    return msg


def schema_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """(JSON path, message) for each error pydantic found."""
    return [(json_path(tuple(e["loc"])), _describe(dict(e))) for e in exc.errors()]


def _validate(kind: str, data: Any, what: str, prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    """Validate with the compiled form of the models (pyrunc.spec.compiled):
    the same verdicts and output as `Model.model_validate(data).model_dump(
    by_alias=True, exclude_unset=True)`, without importing pydantic."""
    from pyrunc.spec import compiled

    if not isinstance(data, dict):
        raise ConfigError(what, f"must be a JSON object, got {type(data).__name__}")
    out, errors = compiled.validate(kind, data)
    if out is None:
        error = errors[0]
        field = json_path(prefix + tuple(error["loc"]))
        raise ConfigError(field or what, _describe(dict(error))) from None
    return out


def config_path(bundle: str) -> str:
    if not os.path.isdir(bundle):
        why = "does not exist" if not os.path.exists(bundle) else "is not a directory"
        raise BundleError(bundle, f"bundle {why}")
    return os.path.join(bundle, CONFIG_NAME)


# pydantic looks for plugins through importlib.metadata at import (tens of
# ms on every create); pyrunc uses none.  Hooks that inherit the runtime's
# environment do not get what pyrunc added (ADDED_ENV, read by pyrunc.hooks).
ADDED_ENV: tuple[str, ...] = ()
if "PYDANTIC_DISABLE_PLUGINS" not in os.environ:
    os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
    ADDED_ENV = ("PYDANTIC_DISABLE_PLUGINS",)


def load_config(bundle: str, *, check: bool = True) -> dict[str, Any]:
    """Read, schema-validate and (with check) run the create-time checks on
    `<bundle>/config.json`.  Returns the validated document as a plain dict."""
    bundle = os.path.abspath(bundle)
    data = read_json(config_path(bundle), "config")
    config = _validate("SPEC", data, "config")
    if check:
        from pyrunc.spec import semantic

        semantic.check(config, bundle)
    return config


def load_process(path: str, *, check: bool = True) -> dict[str, Any]:
    """Read and validate a process object (`exec --process FILE`)."""
    process = _validate("PROCESS", read_json(path, "process"), "process", ("process",))
    if check:
        from pyrunc.spec import semantic

        semantic.check_exec_process(process)
    return process


def check_bundle(bundle: str) -> list[Problem]:
    """Every problem with a bundle: unreadable files, every schema error, then
    every create-time check (errors and warnings)."""
    from pydantic import ValidationError

    from pyrunc.errors import PyruncError
    from pyrunc.spec import semantic
    from pyrunc.spec.model import Spec
    from pyrunc.spec.semantic import Problem

    bundle = os.path.abspath(bundle)
    try:
        data = read_json(config_path(bundle), "config")
    except BundleError as e:
        return [Problem(e.path, e.message.removeprefix(f"{e.path}: "))]
    except PyruncError as e:
        return [Problem(getattr(e, "field", ""), str(e).split(": ", 1)[-1])]
    if not isinstance(data, dict):
        return [Problem("config", f"must be a JSON object, got {type(data).__name__}")]
    found: list[Problem] = []
    try:
        config = Spec.model_validate(data).model_dump(by_alias=True, exclude_unset=True)
    except ValidationError as exc:
        found.extend(Problem(f or "config", m) for f, m in schema_errors(exc))
        config = data  # the semantic checks skip what they cannot read
    # a field the schema already refused is not reported twice
    refused = {p.field for p in found}
    found.extend(p for p in semantic.problems(config, bundle) if p.field not in refused)
    found.extend(semantic.schema_extensions(config))
    return found


def validate_bundle(bundle: str) -> list[str]:
    """Every problem with a bundle as one line each; warnings start with
    "warning: ".  An empty list means the bundle can be created."""
    return [str(p) for p in check_bundle(bundle)]
