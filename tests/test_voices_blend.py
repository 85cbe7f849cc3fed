"""The voice spec grammar: names, weights, normalisation and errors."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kokoro_trt.errors import InvalidInputError
from kokoro_trt.voices import parse_blend


@pytest.mark.parametrize(
    ("spec", "parts"),
    [
        ("af_sarah", (("af_sarah", 1.0),)),
        ("af_sarah+af_jessica", (("af_jessica", 0.5), ("af_sarah", 0.5))),
        ("af_sarah(0.3)+af_jessica(0.7)", (("af_jessica", 0.7), ("af_sarah", 0.3))),
        (" af_sarah ( 3 ) + af_jessica(7) ", (("af_jessica", 0.7), ("af_sarah", 0.3))),
        ("af_sarah(2)+af_jessica", (("af_jessica", 1 / 3), ("af_sarah", 2 / 3))),
        ("af_sarah+af_sarah+af_jessica", (("af_jessica", 1 / 3), ("af_sarah", 2 / 3))),
        ("af_sarah(1.5)+af_jessica(-0.5)", (("af_jessica", -0.5), ("af_sarah", 1.5))),
    ],
)
def test_parses_and_normalises(spec: str, parts: tuple[tuple[str, float], ...]) -> None:
    blend = parse_blend(spec)
    assert blend.names == tuple(name for name, _ in parts)
    assert [w for _, w in blend.parts] == pytest.approx([w for _, w in parts])


def test_equivalent_specs_are_equal_and_print_canonically() -> None:
    assert parse_blend("af_sarah+af_jessica") == parse_blend("af_jessica(2)+af_sarah(2)")
    assert str(parse_blend("af_sarah(1)+af_jessica(3)")) == "af_jessica(0.75)+af_sarah(0.25)"
    assert str(parse_blend("af_sarah")) == "af_sarah"


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("", "empty part"),
        ("af_sarah+", "empty part"),
        ("af_sarah++af_bella", "empty part"),
        ("af_sarah(abc)", "Bad weight 'abc'"),
        ("af_sarah()", "Bad weight ''"),
        ("af_sarah(inf)", "not finite"),
        ("af_sarah(nan)+af_bella", "not finite"),
        ("af_sarah(-1)", "sum to -1"),
        ("af_sarah(0)+af_bella(0)", "sum to 0"),
        ("af_sarah(1)+af_bella(-1)", "sum to 0"),
        ("af sarah", "malformed part"),
        ("../etc/passwd", "malformed part"),
        ("af_sarah(0.5", "malformed part"),
    ],
)
def test_malformed_specs_explain_the_syntax(spec: str, problem: str) -> None:
    with pytest.raises(InvalidInputError, match=problem) as info:
        parse_blend(spec)
    assert "Voice spec syntax" in str(info.value)


def test_non_string_spec_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match="must be a string"):
        parse_blend(3)  # type: ignore[arg-type]


@settings(max_examples=50, deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z]{2}_[a-z]{1,8}", fullmatch=True),
        st.floats(min_value=1e-3, max_value=1e3),
        min_size=1,
        max_size=5,
    )
)
def test_weights_always_sum_to_one(weights: dict[str, float]) -> None:
    spec = "+".join(f"{name}({weight!r})" for name, weight in weights.items())
    blend = parse_blend(spec)
    assert math.isclose(sum(w for _, w in blend.parts), 1.0)
    assert blend.names == tuple(sorted(weights))
    total = sum(weights.values())
    for name, weight in blend.parts:
        assert math.isclose(weight, weights[name] / total)
