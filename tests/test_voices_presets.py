"""Character and emotion presets: packaged YAML, user files, validation and prosody composition."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from kokoro_trt.errors import InvalidInputError, VoiceNotFoundError
from kokoro_trt.voices import (
    STOCK_VOICES,
    Character,
    Emotion,
    Prosody,
    load_characters,
    load_emotions,
    parse_blend,
    resolve_prosody,
)


def genders(character: Character) -> set[str]:
    """'f'/'m' of each stock voice in the character's blend (Kokoro names: <lang><gender>_<name>)."""
    return {name[1] for name in parse_blend(character.voice).names}


def test_packaged_characters_use_stock_voices() -> None:
    characters = load_characters()
    assert {"rick_c137", "morty", "summer"} <= set(characters)
    for name, character in characters.items():
        assert character.name == name
        assert set(parse_blend(character.voice).names) <= set(STOCK_VOICES)
        assert character.description and "\n" not in character.description


def test_characters_sound_like_who_they_are() -> None:
    rick, morty, summer = (load_characters()[n] for n in ("rick_c137", "morty", "summer"))
    assert genders(rick) == {"m"} and genders(morty) == {"m"} and genders(summer) == {"f"}
    assert rick.prosody.pitch_shift < 0 < morty.prosody.pitch_shift  # Rick low, Morty a young (higher) male
    assert rick.prosody.pitch_shift < summer.prosody.pitch_shift


def test_packaged_emotions_move_the_right_way() -> None:
    emotions = load_emotions()
    assert {"neutral", "excited", "sad", "angry", "manic"} <= set(emotions)
    assert emotions["neutral"].apply(Prosody(speed=1.2, pitch_shift=1)) == Prosody(speed=1.2, pitch_shift=1)
    excited, sad, angry, manic = (emotions[n] for n in ("excited", "sad", "angry", "manic"))
    assert excited.pitch_range > 1 and excited.speed > 1 and excited.energy > 1
    assert sad.pitch_shift < 0 and sad.speed < 1 and sad.energy < 1
    assert angry.energy > excited.energy
    assert manic.speed > excited.speed and manic.pitch_range > excited.pitch_range


def test_user_file_merges_over_packaged(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "morty:\n  voice: am_adam\n  pitch_shift: 4\n  description: My Morty.\n"
        "bob:\n  voice: bm_lewis(0.5)+bm_daniel(0.5)\n"
    )
    characters = load_characters(path)
    assert characters["morty"] == Character("morty", "am_adam", Prosody(pitch_shift=4), "My Morty.")
    assert characters["bob"].prosody == Prosody() and "summer" in characters
    assert load_characters()["morty"].voice != "am_adam"  # the packaged presets are untouched
    emotions_file = tmp_path / "emotions.yaml"
    emotions_file.write_text("whisper:\n  energy: 0.6\n  pitch_range: 0.8\n")
    emotions = load_emotions(emotions_file)
    assert emotions["whisper"] == Emotion("whisper", energy=0.6, pitch_range=0.8) and "sad" in emotions


@pytest.mark.parametrize(
    ("loader", "text", "problem"),
    [
        (load_characters, "bob:\n  voice: am_adam(x)\n", r"entry 'bob'.*Bad weight"),
        (load_characters, "bob:\n  voice: am_adam\n  speed: 9\n", r"entry 'bob'.*speed=9"),
        (load_characters, "bob:\n  voice: am_adam\n  volume: 2\n", r"entry 'bob'.*unknown key\(s\) volume"),
        (load_characters, "bob:\n  speed: 1.1\n", r"entry 'bob'.*voice spec"),
        (load_characters, "bob: am_adam\n", r"entry 'bob'.*mapping of fields"),
        (load_characters, "bob:\n  voice: am_adam\n  description: [1]\n", r"entry 'bob'.*description"),
        (load_characters, "- bob\n", r"mapping of names"),
        (load_characters, "bob: [unclosed\n", r"invalid YAML"),
        (load_emotions, "calm:\n  speed: -1\n", r"entry 'calm'.*speed=-1.*above 0"),
        (load_emotions, "calm:\n  pitch_shift: 20\n", r"entry 'calm'.*pitch_shift=20"),
        (load_emotions, "calm:\n  energy: high\n", r"entry 'calm'.*energy must be a finite number"),
        (load_emotions, "calm:\n  voice: am_adam\n", r"entry 'calm'.*unknown key\(s\) voice"),
    ],
)
def test_invalid_entries_name_file_and_entry(tmp_path: Path, loader, text: str, problem: str) -> None:
    path = tmp_path / "presets.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInputError, match=problem) as info:
        loader(path)
    assert str(path) in str(info.value)


def test_missing_user_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="nope.yaml"):
        load_emotions(tmp_path / "nope.yaml")


def test_resolve_order_character_then_emotion_then_explicit() -> None:
    rick, sad = load_characters()["rick_c137"].prosody, load_emotions()["sad"]
    composed = resolve_prosody("rick_c137", "sad")
    assert composed.speed == pytest.approx(rick.speed * sad.speed)
    assert composed.energy == pytest.approx(rick.energy * sad.energy)
    assert composed.pitch_range == pytest.approx(rick.pitch_range * sad.pitch_range)
    assert composed.pitch_shift == pytest.approx(rick.pitch_shift + sad.pitch_shift)
    overridden = resolve_prosody("rick_c137", "sad", speed=1.5, pitch_shift=None)
    assert overridden.speed == 1.5 and overridden.pitch_shift == composed.pitch_shift
    assert overridden.energy == composed.energy


def test_resolve_defaults_and_objects() -> None:
    assert resolve_prosody() == Prosody()
    assert resolve_prosody(emotion=None, energy=0.7) == Prosody(energy=0.7)
    custom = Character("me", "af_bella", Prosody(speed=1.25, pitch_shift=1.0))
    assert resolve_prosody(custom, Emotion("up", pitch_shift=2.0, speed=1.5)) == Prosody(speed=1.875, pitch_shift=3.0)


def test_composition_is_clamped_but_explicit_values_are_checked() -> None:
    extreme = Emotion("extreme", speed=10.0, pitch_shift=12.0, pitch_range=10.0, energy=0.01)
    clamped = resolve_prosody("morty", extreme)
    assert clamped == Prosody(speed=2.0, pitch_shift=12.0, pitch_range=3.0, energy=0.5)
    with pytest.raises(InvalidInputError, match="speed=3"):
        resolve_prosody("morty", speed=3.0)
    with pytest.raises(InvalidInputError, match="unknown key\\(s\\) volume"):
        resolve_prosody(volume=2.0)


def test_unknown_names_suggest_close_matches() -> None:
    with pytest.raises(VoiceNotFoundError, match=r"Unknown character 'rick_c173'.*rick_c137"):
        resolve_prosody("rick_c173")
    with pytest.raises(VoiceNotFoundError, match=r"Unknown emotion 'exited'.*excited"):
        resolve_prosody(emotion="exited")
    assert math.isfinite(resolve_prosody("summer", "manic").speed)
