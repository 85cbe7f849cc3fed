"""misaki's lexicon read back from the cache's snapshot: the same lexicon, rebuilt when damaged or stale."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from misaki import en

from kokoro_trt.text import lexicon_snapshot
from kokoro_trt.text.lexicon_snapshot import load_lexicon_snapshot


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KOKORO_TRT_CACHE", str(tmp_path))
    return tmp_path / "lexicons"


def _snapshots(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.marshal"))


@pytest.mark.parametrize("british", [False, True])
def test_a_snapshot_gives_back_misakis_own_lexicon(cache: Path, british: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    built = load_lexicon_snapshot(british)
    assert len(_snapshots(cache)) == 1
    monkeypatch.setattr(en.Lexicon, "__init__", _must_not_rebuild)
    loaded = load_lexicon_snapshot(british)
    assert loaded is not built and vars(loaded) == vars(built)
    assert loaded.golds == en.Lexicon.grow_dictionary(loaded.golds)  # grown, as misaki's constructor leaves it
    assert isinstance(loaded.golds["abuse"], dict)  # a heteronym: its readings by part of speech


def _must_not_rebuild(self: en.Lexicon, british: bool) -> None:
    raise AssertionError("the lexicon was rebuilt although its snapshot is current")


def test_a_damaged_snapshot_is_rebuilt(cache: Path, caplog: pytest.LogCaptureFixture) -> None:
    expected = vars(load_lexicon_snapshot(False))
    (snapshot,) = _snapshots(cache)
    snapshot.write_bytes(snapshot.read_bytes()[: 1 << 16])  # cut short, as by a full disk
    with caplog.at_level(logging.WARNING):
        assert vars(load_lexicon_snapshot(False)) == expected
    assert "unreadable" in caplog.text
    assert _snapshots(cache) == [snapshot] and snapshot.stat().st_size > 1 << 20  # written whole again


def test_a_stale_snapshot_is_replaced(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load_lexicon_snapshot(False)
    (old,) = _snapshots(cache)
    monkeypatch.setattr(lexicon_snapshot.metadata, "version", lambda name: "0.0.0-another-misaki")
    load_lexicon_snapshot(False)
    (new,) = _snapshots(cache)
    assert new != old


def test_a_cache_that_cannot_be_written_only_costs_the_rebuild(
    cache: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def read_only(path: Path, data: bytes) -> None:
        raise OSError(30, "Read-only file system", str(path))

    monkeypatch.setattr(lexicon_snapshot, "atomic_write", read_only)
    with caplog.at_level(logging.INFO):
        lexicon = load_lexicon_snapshot(False)
    assert isinstance(lexicon.golds["abuse"], dict) and "not written" in caplog.text
    assert not _snapshots(cache)


def test_without_a_cache_folder_the_lexicon_is_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("KOKORO_TRT_CACHE", str(blocker / "cache"))  # cannot be created
    assert isinstance(load_lexicon_snapshot(False).golds["abuse"], dict)
