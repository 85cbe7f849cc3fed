"""Number words, built on num2words (no hand-written number tables)."""

from __future__ import annotations

from num2words import num2words

_MAX_CARDINAL_DIGITS = 15
"""Longer integers (card numbers, ids) are read digit by digit."""


def _words(n: int, to: str, british: bool) -> str:
    """num2words' English (British: ``two hundred and fifty``) without its commas (no pauses);
    American English drops the ``and`` (``two hundred fifty``)."""
    words = num2words(n, to=to).replace(",", "")
    return words if british else words.replace(" and ", " ")


def cardinal(n: int, british: bool = False) -> str:
    """``1234`` -> ``one thousand two hundred thirty-four`` (British: ``... hundred and thirty-four``)."""
    return _words(n, "cardinal", british)


def ordinal(n: int, british: bool = False) -> str:
    """``21`` -> ``twenty-first``; ``101`` -> ``one hundred first`` (British: ``hundred and first``)."""
    return _words(n, "ordinal", british)


def year(n: int, british: bool = False) -> str:
    """``1984`` -> ``nineteen eighty-four``; ``2005`` -> ``two thousand five`` (British: ``and five``)."""
    return _words(n, "year", british)


def digits(s: str) -> str:
    """``007`` -> ``zero zero seven``."""
    return " ".join(num2words(int(d)) for d in s if d.isdecimal())


def integer(s: str, british: bool = False) -> str:
    """An integer as written (commas allowed); leading zeros and very long ones are read as digits."""
    s = s.replace(",", "")
    if (len(s) > 1 and s[0] == "0") or len(s) > _MAX_CARDINAL_DIGITS:
        return digits(s)
    return cardinal(int(s), british)


def decimal(s: str, british: bool = False) -> str:
    """``1,234.5`` -> ``one thousand two hundred thirty-four point five``; ``.5`` -> ``point five``."""
    whole, _, frac = s.replace(",", "").partition(".")
    words = [integer(whole, british)] if whole else []
    if frac:
        words += ["point", digits(frac)]
    return " ".join(words)


def is_one(s: str) -> bool:
    """Whether a written number is exactly one (singular unit names)."""
    return s.replace(",", "").lstrip("0") in ("1", "1.", "1.0", "1.00")


def fraction(numerator: int, denominator: int, british: bool = False) -> str:
    """``3/4`` -> ``three quarters``; ``1/2`` -> ``one half``; ``5/8`` -> ``five eighths``."""
    if denominator == 0:
        return f"{cardinal(numerator, british)} over zero"
    names = {2: ("half", "halves"), 4: ("quarter", "quarters")}
    nth = ordinal(denominator, british)
    one, many = names.get(denominator) or (nth, nth + "s")
    return f"{cardinal(numerator, british)} {one if numerator == 1 else many}"


def plural_number_word(words: str) -> str:
    """``nineteen ninety`` -> ``nineteen nineties`` (decades: ``the 1990s``)."""
    if words.endswith("y"):
        return words[:-1] + "ies"
    return words + ("es" if words.endswith("x") else "s")
