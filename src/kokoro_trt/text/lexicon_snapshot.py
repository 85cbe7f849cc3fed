"""misaki's English lexicon, read back from a snapshot in the cache instead of rebuilt on every load.

``misaki.en.Lexicon()`` parses two JSON dictionaries (~180 000 words each), grows them with capitalised
variants and checks every phoneme against the vocabulary: ~0.35 s of Python on each load, the longest
step of the G2P's. Its attributes are plain dicts, strings and numbers, so the first load writes them
with :mod:`marshal` to ``$KOKORO_TRT_CACHE/lexicons`` and later loads read them back (~0.15 s). The file's
name carries misaki's version, the data files' sizes and times and the Python version (marshal's
format): any change builds a new snapshot (replacing the old one); a damaged one is rebuilt, and a cache
that cannot be written only costs the time.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import sys
from importlib import metadata, resources
from pathlib import Path

from ..storage import atomic_write, cache_dir
from .lean_imports import lean_imports

with lean_imports():
    from misaki import data as misaki_data
    from misaki import en

log = logging.getLogger(__name__)


def load_lexicon_snapshot(british: bool) -> en.Lexicon:
    """``misaki.en.Lexicon(british)``, from the cache's snapshot when there is a current one."""
    try:
        path = _snapshot_path(british)
    except OSError as exc:  # no cache folder to keep it in (a read-only home, say)
        log.info("no lexicon snapshot (%s): the lexicon is rebuilt on each load", exc)
        return en.Lexicon(british)
    try:
        state = marshal.loads(path.read_bytes())
        if isinstance(state, dict):
            lexicon = en.Lexicon.__new__(en.Lexicon)
            lexicon.__dict__.update(state)
            return lexicon
        log.warning("lexicon snapshot %s holds a %s; rebuilding it", path, type(state).__name__)
    except FileNotFoundError:
        pass
    except (OSError, EOFError, ValueError, TypeError) as exc:
        log.warning("lexicon snapshot %s is unreadable (%s); rebuilding it", path, exc)
    lexicon = en.Lexicon(british)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, marshal.dumps(vars(lexicon)))
        for old in path.parent.glob(f"{path.name.rsplit('-', 1)[0]}-*.marshal"):  # another misaki's
            if old != path:
                old.unlink(missing_ok=True)
    except (OSError, ValueError) as exc:  # a read-only cache, or an attribute marshal cannot write
        log.info("lexicon snapshot not written (%s): the lexicon is rebuilt on each load", exc)
    return lexicon


def _snapshot_path(british: bool) -> Path:
    data = resources.files(misaki_data)
    sources = [Path(str(data.joinpath(f"{'gb' if british else 'us'}_{kind}.json"))) for kind in ("gold", "silver")]
    stamps = [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sources]
    key = "|".join([metadata.version("misaki"), sys.version, str(marshal.version), *stamps])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir() / "lexicons" / f"misaki-{'gb' if british else 'us'}-{digest}.marshal"
