"""pyrunc.jsontext (JSON on the _json accelerator, without `import json`)
must read and write exactly what json does."""
from __future__ import annotations

import json
import math

import pytest

from pyrunc import jsontext

VALUES = [
    {}, [], "", 0, -1, 3.25, 1e300, True, False, None, "ünïcødé ☃ \n\t\"\\ \x00 \U0001f600",
    {"ociVersion": "1.3.0", "id": "c", "pid": 42, "status": "running", "annotations": {}},
    {"a": [1, [2, [3, {}]], {"b": None, "c": [True, False]}], "d": {"e": {"f": []}}},
    [{"x": 1.5}, [], {}, "s"], {"k": -0.0}, list(range(20)),
]


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("kw", [{}, {"indent": 2}, {"separators": (",", ":")}, {"indent": 4},
                                {"sort_keys": True, "separators": (",", ":")}, {"sort_keys": True}])
def test_dumps_is_json_dumps(value, kw):
    assert jsontext.dumps(value, **kw) == json.dumps(value, **kw)


@pytest.mark.parametrize("value", VALUES)
def test_loads_inverts_json_dumps(value):
    for text in (json.dumps(value), json.dumps(value, indent=2), f"  {json.dumps(value)}\n"):
        assert jsontext.loads(text) == json.loads(text)
        assert jsontext.loads(text.encode()) == json.loads(text)


def test_non_finite_numbers_like_json():
    assert jsontext.dumps([math.inf, -math.inf]) == json.dumps([math.inf, -math.inf])
    assert math.isnan(jsontext.loads("NaN"))
    assert jsontext.loads("[Infinity, -Infinity]") == [math.inf, -math.inf]


@pytest.mark.parametrize("text", ["", " ", "{", "[1,]", "{\"a\" 1}", "1 2", "nul", "\ufeff{}", "{'a': 1}"])
def test_bad_json_is_a_value_error(text):
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        jsontext.loads(text)


def test_unserialisable_is_a_type_error():
    with pytest.raises(TypeError, match="not JSON serializable"):
        jsontext.dumps({"a": object()})


def test_malformed_json_raises_json_own_error_with_its_position():
    with pytest.raises(json.JSONDecodeError) as e:
        jsontext.loads('{\n  "a": [1, 2,\n}')
    assert (e.value.lineno, e.value.colno) == (3, 1)
