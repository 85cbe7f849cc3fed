"""Not-found errors that suggest close matches."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from ..errors import VoiceNotFoundError


def not_found(kind: str, name: str, known: Iterable[str], hint: str = "") -> VoiceNotFoundError:
    """A :class:`VoiceNotFoundError` for an unknown ``kind`` (voice, character...) with close matches."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.6)
    suggestion = f" Did you mean: {', '.join(close)}?" if close else f" Known {kind}s: {', '.join(known)}."
    return VoiceNotFoundError(f"Unknown {kind} {name!r}.{suggestion}{hint}")
