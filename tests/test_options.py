"""``SynthesisOptions``: one validated object for every argument that shapes the samples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kokoro_trt import InvalidInputError, SynthesisOptions, VoiceNotFoundError
from kokoro_trt.text import NormalizationOptions

TEXT = "The quick brown fox jumps over the lazy dog."

BAD_VALUES = [None, "1", b"x", [1.0], {"a": 1}, True, math.nan, math.inf, -math.inf, 1e308, -1e308, 10**400]
"""What a careless or hostile caller passes: None, wrong types, NaN, ±inf, huge numbers."""

ACCEPTS_NONE = {"pitch_shift", "pitch_range", "energy", "seed", "max_seconds", "lang", "lexicon", "normalization"}
"""Fields where ``None`` means "not given" (or, for ``max_seconds``, "no limit")."""


def _bad_values(field: str) -> list[object]:
    values = [v for v in BAD_VALUES if not (v is None and field in ACCEPTS_NONE)]
    if field in {"voice", "emotion", "lang"}:
        values = [v for v in values if not isinstance(v, str)] + ["", "   ", "x" * 300]
    return values


@pytest.mark.parametrize("field", sorted(f for f in SynthesisOptions.__dataclass_fields__))
def test_every_bad_argument_is_an_invalid_input_error(field):
    for value in _bad_values(field):
        with pytest.raises(InvalidInputError):
            SynthesisOptions(**{field: value})


@pytest.mark.parametrize("field", ["speed", "pitch_shift", "pitch_range", "energy", "max_seconds", "seed", "voice"])
def test_the_model_refuses_bad_keywords_before_any_work(tiny_model, monkeypatch, field):
    def must_not_run(*args, **kwargs):
        raise AssertionError("the backend ran before the arguments were checked")

    monkeypatch.setattr(tiny_model.backend, "durations", must_not_run)
    name = "voice_id" if field == "voice" else field
    for value in _bad_values(field):
        if value is None:
            continue  # a positional None means "from options"
        with pytest.raises(InvalidInputError):
            tiny_model.speak(TEXT, **{name: value})
        with pytest.raises(InvalidInputError):
            next(tiny_model.stream(TEXT, **{name: value}))


def test_none_positionals_mean_the_options_values(tiny_model):
    """``emotion=None`` (and voice, speed, seed) is "not given", not a TypeError deep inside."""
    baseline = tiny_model.synthesize(TEXT)
    assert np.array_equal(tiny_model.synthesize(TEXT, None, None, None, seed=None), baseline)
    assert np.array_equal(tiny_model.synthesize(TEXT, emotion=None), baseline)


def test_options_object_and_keywords_give_the_same_audio(tiny_model):
    options = SynthesisOptions(voice="af_sky", speed=1.2, pitch_shift=2.0, energy=1.3, seed=7)
    by_keywords = tiny_model.synthesize(TEXT, "af_sky", 1.2, seed=7, pitch_shift=2.0, energy=1.3)
    assert np.array_equal(tiny_model.synthesize(TEXT, options=options), by_keywords)
    # keyword overrides replace the object's fields
    louder = tiny_model.synthesize(TEXT, options=options.replace(energy=1.0), energy=1.3)
    assert np.array_equal(louder, by_keywords)
    assert not np.array_equal(tiny_model.synthesize(TEXT, options=options, seed=8), by_keywords)


def test_unknown_or_doubled_options_are_named(tiny_model):
    with pytest.raises(InvalidInputError, match="pitch_rnage"):
        tiny_model.speak(TEXT, pitch_rnage=1.2)
    with pytest.raises(InvalidInputError, match="voice is given twice"):
        tiny_model.speak(TEXT, "af_sky", voice="af_heart")
    with pytest.raises(InvalidInputError, match="options must be SynthesisOptions"):
        tiny_model.speak(TEXT, options={"voice": "af_sky"})


def test_unknown_names_are_voice_errors(tiny_model):
    with pytest.raises(VoiceNotFoundError, match="af_heart"):
        tiny_model.speak(TEXT, "af_hart")
    with pytest.raises(VoiceNotFoundError, match="excited"):
        tiny_model.speak(TEXT, emotion="excitd")


def test_options_are_hashable_and_equal_by_value():
    """The server keys its audio cache on ``(text, options)``."""
    a = SynthesisOptions(voice="af_sky", lexicon={"kokoro": "kˈOkəɹO"}, normalization=NormalizationOptions())
    b = SynthesisOptions(voice="af_sky", lexicon={"kokoro": "kˈOkəɹO"}, normalization=NormalizationOptions())
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != b.replace(lexicon={"kokoro": "kˈOkOɹO"})
    assert dict(a.lexicon) == {"kokoro": "kˈOkəɹO"}


def test_values_are_normalised():
    options = SynthesisOptions(speed=np.float32(1.5), seed=np.int64(3), max_seconds=10)
    assert type(options.speed) is float and type(options.seed) is int and type(options.max_seconds) is float


def test_long_bad_values_are_not_echoed_whole():
    with pytest.raises(InvalidInputError) as info:
        SynthesisOptions(seed="9" * 10_000)
    assert len(str(info.value)) < 200


@pytest.mark.parametrize("ids", [[-1], [10**9], [1.5], [], "abc", [True]])
def test_durations_refuses_ids_outside_the_vocabulary(tiny_model, ids):
    with pytest.raises(InvalidInputError):
        tiny_model.durations(ids)
