"""The spec models, compiled for the create path.

Importing the pydantic models costs ~140 ms (pydantic itself plus building
~40 validators), paid by every `create`.  The models stay the single source
of truth; from them we generate a pydantic-core schema that validates into
plain dicts (`typed-dict` instead of `model`, JSON names as keys) and keep it
as a Python literal in `_compiled_schema.py`.  At run time only pydantic_core
is imported and the validator is built from that literal in about a
millisecond.  Unit tests require the compiled validator and the models to
give the same verdict and the same output on every official fixture and on
thousands of mutated documents; `python3 -m pyrunc.spec.schema_export`
regenerates the file and `--check` fails when it is stale.

The three string maps (annotations, linux.sysctl, linux.resources.unified)
carry a Python check in the model (`_check_string_map`); it is re-applied
here after validation, at the paths recorded in the compiled file."""
from __future__ import annotations

import os

TYPE_CHECKING = False  # no typing, re, pathlib, glob, importlib.util: this runs on every create
if TYPE_CHECKING:
    from typing import Any

GENERATED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_compiled_schema.py")
_validators: dict[str, Any] = {}


# ---------------------------------------------------------------- generation


def _convert(node: Any, maps: list[list[Any]], path: list[Any] | None,
             patterns: list[tuple[list[Any], str]] | None = None) -> Any:
    """A model's core schema -> the same schema validating into dicts.

    `path` is the JSON path of `node` ("*" for any list index or map key), or
    None where it is not one place (shared definitions, union choices).
    String maps are recorded in `maps`; patterns that pyrunc.spec.patterns
    can match without `re` are taken out of the schema and recorded in
    `patterns`, to be checked after validation."""
    if patterns is None:
        patterns = []
    if isinstance(node, list):
        return [_convert(x, maps, path, patterns) for x in node]
    if not isinstance(node, dict):
        return node
    kind = node.get("type")
    if kind == "model":
        inner = _convert(node["schema"], maps, path, patterns)
        if "ref" in node:
            inner["ref"] = node["ref"].split(":")[0]
        return inner
    if kind == "model-fields":
        fields = {}
        for name, f in node["fields"].items():
            key = f.get("validation_alias", name)
            sch = f["schema"]
            required = sch.get("type") != "default"
            if not required:
                sch = sch["schema"]
            fields[key] = {"type": "typed-dict-field", "required": required,
                           "schema": _convert(sch, maps, None if path is None else path + [key], patterns)}
        return {"type": "typed-dict", "fields": fields, "total": False, "extra_behavior": "ignore",
                "config": {"strict": True, "regex_engine": "rust-regex", "extra_fields_behavior": "ignore"}}
    if kind == "function-after":
        if path is None or "*" in path:
            raise ValueError("a string map inside a list, map or shared definition: extend _check_maps")
        maps.append(path)
        return _convert(node["schema"], maps, path, patterns)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("metadata", "serialization", "cls"):
            continue
        if key == "pattern" and kind == "str":
            from pyrunc.spec.patterns import compile_pattern

            if path is not None and compile_pattern(value) is not None:
                patterns.append((path, value))  # checked after validation, without re
            else:
                out[key] = _rust_pattern(value)
            continue
        if key in ("ref", "schema_ref"):
            out[key] = value.split(":")[0]
            continue
        if key in ("items_schema", "values_schema"):
            sub = None if path is None else path + ["*"]
        elif key in ("definitions", "choices", "keys_schema"):
            sub = None
        else:
            sub = path
        out[key] = _convert(value, maps, sub, patterns)
    return out


def _rust_pattern(pattern: str) -> str:
    """The models' patterns use Python's `re` (as jsonschema does), where a
    final `$` also matches before a trailing newline; the compiled schema
    uses pydantic-core's Rust engine (building a validator with python-re
    imports `re`, ~5 ms of every create), where `$` is the end of the text.
    So a final unescaped `$` becomes `\\n?$`.  The patterns in the models are
    plain (classes, anchors, repeats), which both engines read alike; the
    model/compiled parity tests hold this on every fixture and mutation."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        return pattern[:-1] + "\\n?$"
    return pattern


def _model_pattern(error: dict[str, Any]) -> dict[str, Any]:
    """An error about a pattern, quoting the model's pattern (undo _rust_pattern)."""
    if error.get("type") != "string_pattern_mismatch":
        return error
    rust = (error.get("ctx") or {}).get("pattern", "")
    if not isinstance(rust, str) or not rust.endswith("\\n?$"):
        return error
    model = rust[:-4] + "$"
    error = dict(error, msg=str(error.get("msg", "")).replace(rust, model))
    error["ctx"] = dict(error["ctx"], pattern=model)
    return error


def generate_source() -> str:
    from pyrunc.spec.model import Process, Spec

    import json

    # Kept as JSON text: parsing it takes 0.3 ms where executing the same
    # nested dict literal takes ~8 ms.  (jsontext: `json` imports `re`.)
    parts = ['"""Generated by pyrunc.spec.compiled from pyrunc.spec.model: do not edit."""',
             "from pyrunc import jsontext", ""]
    for name, model in (("SPEC", Spec), ("PROCESS", Process)):
        maps: list[list[Any]] = []
        patterns: list[tuple[list[Any], str]] = []
        schema = _convert(model.__pydantic_core_schema__, maps, [], patterns)
        parts.append(f"{name} = jsontext.loads({json.dumps(schema, sort_keys=True)!r})")
        parts.append(f"{name}_STRING_MAPS = {maps!r}")
        parts.append(f"{name}_PATTERNS = {patterns!r}")
    return "\n".join(parts) + "\n"


def write() -> None:
    with open(GENERATED, "w") as f:
        f.write(generate_source())


def is_fresh() -> bool:
    try:
        with open(GENERATED) as f:
            return f.read() == generate_source()
    except FileNotFoundError:
        return False


# ---------------------------------------------------------------- run time


def _core() -> Any:
    """pydantic-core's compiled module.  Its package __init__ also imports the
    typing-heavy `core_schema` module (~20 ms) that validation does not need,
    so the extension is loaded on its own (and registered under its real name,
    so a later `import pydantic_core` finds it); any surprise falls back to
    the plain import."""
    import sys

    name = "pydantic_core._pydantic_core"
    if name in sys.modules:
        return sys.modules[name]
    try:
        from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader, ModuleSpec

        found = [os.path.join(d, "pydantic_core", f"_pydantic_core{suffix}")
                 for d in sys.path for suffix in EXTENSION_SUFFIXES]
        found = [so for so in found if os.path.isfile(so)]
        if not found:
            raise ImportError(name)
        loader = ExtensionFileLoader(name, found[0])
        spec = ModuleSpec(name, loader, origin=found[0])
        mod = loader.create_module(spec)
        loader.exec_module(mod)
        sys.modules[name] = mod
        return mod
    except Exception:
        import pydantic_core._pydantic_core as mod

        return mod


def validator(kind: str) -> tuple[Any, list[list[Any]], list[tuple[list[Any], str]]]:
    """(SchemaValidator, string map paths, (path, pattern) checks) for "SPEC" or "PROCESS"."""
    if kind not in _validators:
        from pyrunc.spec import _compiled_schema as c

        _validators[kind] = (_core().SchemaValidator(getattr(c, kind)), getattr(c, f"{kind}_STRING_MAPS"),
                             getattr(c, f"{kind}_PATTERNS"))
    return _validators[kind]


def _at(node: Any, path: list[Any], loc: tuple[Any, ...] = ()) -> Any:
    """(loc, value) for every value at `path` in `node` ("*": every item or key)."""
    if not path:
        yield loc, node
        return
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(node, list):
            for i, item in enumerate(node):
                yield from _at(item, rest, loc + (i,))
        elif isinstance(node, dict):
            for k, item in node.items():
                yield from _at(item, rest, loc + (k,))
    elif isinstance(node, dict) and head in node:
        yield from _at(node[head], rest, loc + (head,))


def _check_patterns(doc: dict[str, Any], checks: list[tuple[list[Any], str]]) -> dict[str, Any] | None:
    """The first value that breaks its pattern, as pydantic would report it."""
    from pyrunc.spec.patterns import compile_pattern

    for path, pattern in checks:
        match = None
        for loc, value in _at(doc, path):
            if not isinstance(value, str):
                continue
            match = match or compile_pattern(pattern)
            if not match(value):
                return {"type": "string_pattern_mismatch", "loc": loc, "input": value, "ctx": {"pattern": pattern},
                        "msg": f"String should match pattern '{pattern}'"}
    return None


def _check_maps(doc: dict[str, Any], paths: list[list[Any]]) -> tuple[tuple[Any, ...], str] | None:
    for path in paths:
        node: Any = doc
        for part in path:
            if not isinstance(node, dict) or part not in node:
                node = None
                break
            node = node[part]
        if not isinstance(node, dict):
            continue
        for key, item in node.items():
            if not isinstance(item, str) and key.strip("\n"):  # (the model's check: a key with any char but \n)
                return tuple(path), f"value of {key!r} must be a string, got {type(item).__name__}"
    return None


def validate(kind: str, data: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(validated dict, []) or (None, pydantic-style error dicts)."""
    v, maps, patterns = validator(kind)
    try:
        out = v.validate_python(data)
    except _core().ValidationError as exc:
        return None, [_model_pattern(e) for e in exc.errors()]
    bad = _check_maps(out, maps)
    if bad is not None:
        loc, msg = bad
        return None, [{"type": "value_error", "loc": loc, "msg": msg, "input": None}]
    broken = _check_patterns(out, patterns)
    if broken is not None:
        return None, [broken]
    return out, []
