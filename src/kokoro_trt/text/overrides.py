"""Inline phoneme overrides: ``[Kokoro](/kˈOkəɹO/)`` speaks ``Kokoro`` with the given phonemes."""

from __future__ import annotations

import re

OVERRIDE_RE = re.compile(r"\[([^\[\]]+)\]\(/([^/()]*)/\)")
"""Group 1: the displayed word(s); group 2: their phonemes."""
