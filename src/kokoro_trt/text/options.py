"""Per-call switches for the normaliser, mirroring Kokoro-FastAPI's ``normalization_options``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NormalizationOptions:
    """Which parts of the normaliser run; field names and defaults are Kokoro-FastAPI's.

    - ``normalize``: the whole normaliser. Off: only the character clean-up and inline phoneme
      overrides run; numbers, symbols and abbreviations go to the G2P as written.
    - ``unit_normalization``: quantities with units (``10KB``, ``5 km``, ``40–60°C``, ``50%``).
      Off (their default): the number is read and the unit is left to the G2P or the symbol rule.
    - ``url_normalization``, ``email_normalization``, ``phone_normalization``: spelling out URLs,
      e-mail addresses and phone numbers.
    - ``optional_pluralization_normalization``: ``word(s)`` → ``words``.
    - ``replace_remaining_symbols``: ``&``, ``+``, ``@``, ``=``, ``×``, ``%``, ``°``, ``/``, ``<``,
      ``>``, ``±``, ``→``, ``#`` read as words; off, they are dropped (``C#`` and ``#AI`` are
      always read: "C sharp", "hashtag AI").

    Every field has a counterpart in this normaliser. Parts with no switch (numbers, money, dates,
    times, ordinals, abbreviations) run whenever ``normalize`` is on.
    """

    normalize: bool = True
    unit_normalization: bool = False
    url_normalization: bool = True
    email_normalization: bool = True
    optional_pluralization_normalization: bool = True
    phone_normalization: bool = True
    replace_remaining_symbols: bool = True

    def disabled_rules(self) -> frozenset[str]:
        """Names of the rules (see :mod:`.rules`) switched off; empty when everything runs."""
        return frozenset(name for field, name in _RULE_OF.items() if not getattr(self, field))


_RULE_OF = {
    "unit_normalization": "quantity",
    "url_normalization": "url",
    "email_normalization": "email",
    "optional_pluralization_normalization": "optional_plural",
    "phone_normalization": "phone",
    "replace_remaining_symbols": "symbol",
}
"""Field → the rule it switches (``normalize`` switches them all)."""
