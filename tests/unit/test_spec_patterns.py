"""pyrunc.spec.patterns must agree with Python's re.search on every pattern
of the spec models (and on a few more shapes), for a corpus of strings."""
from __future__ import annotations

import itertools
import random
import re

import pytest

from pyrunc.spec.patterns import compile_pattern


def model_patterns() -> list[str]:
    from pyrunc.spec import model

    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "str" and "pattern" in node:
                found.add(node["pattern"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for m in (model.Spec, model.Process):
        walk(m.__pydantic_core_schema__)
    return sorted(found)


EXTRA = [r"^[cbup]$", r"[a-c]+x?", r"^a*$", r"^[^\n]*$", r"x$", r"^[\-a]$", r"^[a\-c]+$", r"^[]a]$", r"^a?b+c*$",
         r"^[0-9, -]*$"]
UNSUPPORTED = [r"^(a|b)$", r"^a{2}$", r"^.$", r"^\d+$", r"^a+?$", r"^[[:alpha:]]$"]


def corpus(pattern: str) -> list[str]:
    rnd = random.Random(pattern)
    alphabet = sorted(set(pattern.replace("\\n", "\n")) | set("aZ09_-,: \n\tMBKGRLIMTCAP"))
    out = ["", "\n", "\n\n"]
    for n in range(1, 4):
        out += ["".join(t) for t in itertools.islice(itertools.product(alphabet, repeat=n), 3000)]
    for _ in range(3000):
        out.append("".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12))))
    return out


@pytest.mark.parametrize("pattern", sorted(set(model_patterns()) | set(EXTRA)))
def test_agrees_with_re_search(pattern):
    match = compile_pattern(pattern)
    assert match is not None, f"{pattern!r} should be in the supported subset"
    rx = re.compile(pattern)
    for s in corpus(pattern):
        assert match(s) == (rx.search(s) is not None), (pattern, s)


def test_the_models_have_patterns():
    assert {r"^[cbup]$", r"^RLIMIT_[A-Z]+$"} <= set(model_patterns())


@pytest.mark.parametrize("pattern", UNSUPPORTED)
def test_outside_the_subset_is_refused(pattern):
    assert compile_pattern(pattern) is None
