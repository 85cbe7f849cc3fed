"""``first_available``: try alternatives in order of preference, keeping why each one could not be had."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from .errors import BackendUnavailableError

T = TypeVar("T")


def first_available(candidates: Iterable[tuple[str, Callable[[], T]]]) -> tuple[str, T, list[str]]:
    """``(name, result, reasons)`` of the first candidate whose factory does not raise
    :class:`BackendUnavailableError`; ``reasons`` are the earlier ones' ``"name: why"``.

    Raises :class:`BackendUnavailableError` with every reason, ``"; "``-joined, when none is available.
    """
    reasons: list[str] = []
    for name, factory in candidates:
        try:
            return name, factory(), reasons
        except BackendUnavailableError as exc:
            reasons.append(f"{name}: {exc}")
    raise BackendUnavailableError("; ".join(reasons))
