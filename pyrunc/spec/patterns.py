"""The spec models' string patterns, matched without `re`.

The patterns in the models are small: anchors, literal characters, character
classes with ranges (possibly negated) and the `*`, `+`, `?` repeats, e.g.
`^[cbup]$`, `^RLIMIT_[A-Z]+$`, `^MB:[^\\n]*$`.  Leaving them in the compiled
schema makes pydantic-core import `re` (and `enum`, `functools`), ~4 ms of
every `create`; so the compiled validator checks them here after validation,
with Python `re.search` semantics: `^` anchors at the start, a final `$`
matches at the end or before a final newline.  `compile_pattern` returns None
for anything outside that subset (alternation, groups, `.`, `{m,n}`, `\\d`
classes, ...), and the schema generator then refuses the model.  tests/unit/
test_spec_patterns.py holds every model pattern to `re.search` on a corpus."""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "\\": "\\", "-": "-", "]": "]", "[": "[",
            "^": "^", "$": "$", ".": ".", "*": "*", "+": "+", "?": "?", "/": "/", "_": "_", ":": ":", " ": " "}
_SPECIAL = set(".|(){}")


class _Unsupported(Exception):
    pass


class _CharSet:
    """One position: a set of characters and ranges, maybe negated."""

    __slots__ = ("chars", "ranges", "negated")

    def __init__(self, chars: str, ranges: list[tuple[str, str]], negated: bool) -> None:
        self.chars = chars
        self.ranges = ranges
        self.negated = negated

    def __contains__(self, c: str) -> bool:
        hit = c in self.chars or any(lo <= c <= hi for lo, hi in self.ranges)
        return hit != self.negated


def _escape(p: str, i: int) -> tuple[str, int]:
    if i + 1 >= len(p) or p[i + 1] not in _ESCAPES:
        raise _Unsupported
    return _ESCAPES[p[i + 1]], i + 2


def _parse_class(p: str, i: int) -> tuple[_CharSet, int]:
    i += 1  # past "["
    negated = i < len(p) and p[i] == "^"
    if negated:
        i += 1
    items: list[tuple[str, bool]] = []  # (character, was escaped)
    first = True
    while i < len(p) and (p[i] != "]" or first):
        if p[i] == "\\":
            c, i = _escape(p, i)
            items.append((c, True))
        elif p[i] == "[":
            raise _Unsupported  # [:classes:] and nested sets
        else:
            items.append((p[i], False))
            i += 1
        first = False
    if i >= len(p):
        raise _Unsupported
    chars, ranges, j = "", [], 0
    while j < len(items):
        if j + 2 < len(items) and items[j + 1] == ("-", False):  # a-z; an escaped \- is a literal
            if items[j][0] > items[j + 2][0]:
                raise _Unsupported  # re rejects a reversed range
            ranges.append((items[j][0], items[j + 2][0]))
            j += 3
        else:
            chars += items[j][0]
            j += 1
    return _CharSet(chars, ranges, negated), i + 1


def _parse(p: str) -> tuple[bool, list[tuple[_CharSet, int, int | None]], bool]:
    """(anchored at start, [(charset, min, max)], anchored at end)."""
    start = p.startswith("^")
    i = 1 if start else 0
    end = p.endswith("$") and not p.endswith("\\$")
    stop = len(p) - 1 if end else len(p)
    tokens: list[tuple[_CharSet, int, int | None]] = []
    while i < stop:
        c = p[i]
        if c == "[":
            cs, i = _parse_class(p, i)
        elif c == "\\":
            lit, i = _escape(p, i)
            cs = _CharSet(lit, [], False)
        elif c in _SPECIAL or c in "^$*+?":
            raise _Unsupported
        else:
            cs, i = _CharSet(c, [], False), i + 1
        lo, hi = 1, 1
        if i < stop and p[i] in "*+?":
            lo, hi = {"*": (0, None), "+": (1, None), "?": (0, 1)}[p[i]]
            i += 1
            if i < stop and p[i] in "*+?":
                raise _Unsupported  # lazy or possessive repeats
        tokens.append((cs, lo, hi))
    if i > stop:
        raise _Unsupported
    return start, tokens, end


def _match_at(tokens: list[tuple[_CharSet, int, int | None]], t: int, s: str, pos: int, end: bool) -> bool:
    if t == len(tokens):
        return not end or pos == len(s) or (pos == len(s) - 1 and s[pos] == "\n")
    cs, lo, hi = tokens[t]
    n = 0
    while (hi is None or n < hi) and pos + n < len(s) and s[pos + n] in cs:
        n += 1
    for k in range(n, lo - 1, -1):  # greedy, backtracking
        if _match_at(tokens, t + 1, s, pos + k, end):
            return True
    return False


def compile_pattern(pattern: str) -> Callable[[str], bool] | None:
    """A function s -> bool equal to `re.search(pattern, s) is not None`, or
    None when the pattern is outside the supported subset."""
    try:
        start, tokens, end = _parse(pattern)
    except _Unsupported:
        return None
    if start:
        return lambda s: _match_at(tokens, 0, s, 0, end)
    return lambda s: any(_match_at(tokens, 0, s, i, end) for i in range(len(s) + 1))
