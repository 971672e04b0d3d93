"""JSON for the hot commands without `import json`.

`json` imports `re` (and with it `enum`, `functools`, `collections`): about
8 ms of a `state` or `delete` that the container manager pays on every
container.  The C accelerator `_json` under it needs none of that, so this
module drives it directly: `loads` is `json.loads` with its default
options, `dumps` is `json.dumps` with its default options (`indent` and
`separators` as json's).  Both produce and accept exactly what `json`
does; `tests/unit/test_jsontext.py` checks them against it."""
from __future__ import annotations

import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}


class _DecoderContext:
    """The attributes `_json.make_scanner` reads from a json.JSONDecoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


_scan = _json.make_scanner(_DecoderContext())


def _whitespace_end(s: str, i: int) -> int:
    n = len(s)
    while i < n and s[i] in " \t\n\r":
        i += 1
    return i


def loads(s: str | bytes) -> Any:
    """json.loads(s).  Malformed input is handed to json itself, which raises
    its precise JSONDecodeError (the C scanner alone cannot: it builds that
    exception from `json.decoder`, which is not imported here)."""
    if isinstance(s, (bytes, bytearray)):
        s = s.decode("utf-8")
    try:
        if not s.startswith("\ufeff"):
            obj, end = _scan(s, _whitespace_end(s, 0))
            if _whitespace_end(s, end) == len(s):
                return obj
    except Exception:
        pass
    import json

    return json.loads(s)


def _no_default(o: object) -> object:
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


def _encoder(item_sep: str, key_sep: str, sort_keys: bool) -> Any:
    # (markers, default, encode_str, indent, key_separator, item_separator, sort_keys, skipkeys, allow_nan)
    return _json.make_encoder({}, _no_default, _json.encode_basestring_ascii, None, key_sep, item_sep,
                              sort_keys, False, True)


_COMPACT: dict[tuple[str, str, bool], Any] = {}


def dumps(obj: Any, indent: int | None = None, separators: tuple[str, str] | None = None,
          sort_keys: bool = False) -> str:
    item_sep, key_sep = separators or ((", " if indent is None else ","), ": ")
    if indent is None:
        enc = _COMPACT.get((item_sep, key_sep, sort_keys))
        if enc is None:
            enc = _COMPACT[(item_sep, key_sep, sort_keys)] = _encoder(item_sep, key_sep, sort_keys)
        return "".join(enc(obj, 0))
    if sort_keys:
        raise ValueError("jsontext.dumps: indent with sort_keys is not supported")
    leaf = _encoder(item_sep, key_sep, False)
    out: list[str] = []
    _pretty(obj, leaf, " " * indent, "\n", item_sep, key_sep, out)
    return "".join(out)


def _pretty(obj: Any, leaf: Any, step: str, nl: str, item_sep: str, key_sep: str, out: list[str]) -> None:
    """json.dumps(indent=...)'s layout: one member per line, empty containers `{}`/`[]`."""
    inner = nl + step
    if isinstance(obj, dict) and obj:
        out.append("{")
        first = True
        for k, v in obj.items():
            out.append(inner if first else item_sep + inner)
            first = False
            if not isinstance(k, str):
                k = "".join(leaf(k, 0)).strip('"') if isinstance(k, (int, float, bool)) or k is None else k
            out.append(_json.encode_basestring_ascii(k) + key_sep)
            _pretty(v, leaf, step, inner, item_sep, key_sep, out)
        out.append(nl + "}")
    elif isinstance(obj, (list, tuple)) and obj:
        out.append("[")
        for i, v in enumerate(obj):
            out.append(inner if i == 0 else item_sep + inner)
            _pretty(v, leaf, step, inner, item_sep, key_sep, out)
        out.append(nl + "]")
    else:
        out.append("".join(leaf(obj, 0)))
