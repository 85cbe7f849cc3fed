"""Normalisation rules: each turns one regex match of written text into its spoken form."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass

from . import numbers as nw
from .overrides import OVERRIDE_RE

Handler = Callable[[re.Match, bool], str]
"""``(match, british) -> spoken text``."""


@dataclass(frozen=True)
class Rule:
    """A pattern and the function that speaks it; ``is_word`` is False for punctuation rewrites."""

    name: str
    pattern: re.Pattern
    speak: Handler
    is_word: bool = True


NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+"
_START = r"(?<![\w.])"
_MONTHS = [m for m in calendar.month_name if m] + [m for m in calendar.month_abbr if m] + ["Sept"]
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_MONTH_NUMBER = {name: i % 12 or 12 for i, name in enumerate(_MONTHS, start=1)} | {"Sept": 9}

_SCALES = {
    "thousand": "thousand",
    "k": "thousand",
    "K": "thousand",
    "million": "million",
    "m": "million",
    "M": "million",
    "mn": "million",
    "billion": "billion",
    "bn": "billion",
    "b": "billion",
    "B": "billion",
    "trillion": "trillion",
    "tn": "trillion",
    "T": "trillion",
}
_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
    "¥": ("yen", "yen", "", ""),
}

_UNITS = {
    "km²": ("square kilometer", "square kilometers"),
    "m²": ("square meter", "square meters"),
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "m/s": ("meter per second", "meters per second"),
    "km": ("kilometer", "kilometers"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "m": ("meter", "meters"),
    "mi": ("mile", "miles"),
    "ft": ("foot", "feet"),
    "yd": ("yard", "yards"),
    "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"),
    "g": ("gram", "grams"),
    "lbs": ("pound", "pounds"),
    "lb": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "L": ("liter", "liters"),
    "°C": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
    "%": ("percent", "percent"),
    "TB": ("terabyte", "terabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "MB": ("megabyte", "megabytes"),
    "KB": ("kilobyte", "kilobytes"),
    "kB": ("kilobyte", "kilobytes"),
    "GHz": ("gigahertz", "gigahertz"),
    "MHz": ("megahertz", "megahertz"),
    "kHz": ("kilohertz", "kilohertz"),
    "Hz": ("hertz", "hertz"),
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "kW": ("kilowatt", "kilowatts"),
    "W": ("watt", "watts"),
    "V": ("volt", "volts"),
    "ms": ("millisecond", "milliseconds"),
    "sec": ("second", "seconds"),
    "min": ("minute", "minutes"),
    "hrs": ("hour", "hours"),
    "hr": ("hour", "hours"),
    "h": ("hour", "hours"),
}
_UNIT_RE = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))

_TITLES = {
    "Mr": "Mister",
    "Mrs": "Missus",
    "Ms": "Miz",
    "Prof": "Professor",
    "Mt": "Mount",
    "Capt": "Captain",
    "Lt": "Lieutenant",
    "Sgt": "Sergeant",
    "Gen": "General",
    "Gov": "Governor",
    "Sen": "Senator",
}
_TRAILING = {
    "etc": "et cetera",
    "Jr": "Junior",
    "Sr": "Senior",
    "Inc": "Incorporated",
    "Ltd": "Limited",
    "Corp": "Corporation",
    "Co": "Company",
    "Ave": "Avenue",
    "Dept": "Department",
    "approx": "approximately",
    "vs": "versus",
    "e.g": "for example",
    "i.e": "that is",
}
"""Abbreviations that may also end a sentence: their full stop is kept when one does."""
_SYMBOL_WORDS = {
    "&": "and",
    "+": "plus",
    "@": "at",
    "=": "equals",
    "×": "times",
    "%": "percent",
    "°": "degrees",
    "/": "slash",
    "<": "less than",
    ">": "greater than",
    "±": "plus or minus",
    "→": "to",
    "²": "squared",
    "³": "cubed",
    "#": "hash",
}
_URL_SYMBOLS = {
    ".": "dot",
    "/": "slash",
    "-": "dash",
    "_": "underscore",
    ":": "colon",
    "?": "question mark",
    "=": "equals",
    "&": "and",
    "#": "hash",
    "@": "at",
    "~": "tilde",
    "+": "plus",
    "%": "percent",
}


def _ends_sentence(m: re.Match) -> bool:
    """Whether the text after a match that swallowed a full stop starts a new sentence."""
    return re.match(r"\s*$|\s+[\"(\[]?[A-Z]", m.string[m.end() :]) is not None


def _british(words: str, british: bool) -> str:
    return words.replace("meter", "metre").replace("liter", "litre") if british else words


def _spell_address(text: str) -> str:
    """``john.doe@example.com`` -> ``john dot doe at example dot com``; digits read one by one."""
    parts = re.findall(r"[A-Za-z]+|\d+|.", text)
    spoken = (nw.digits(p) if p.isdecimal() else _URL_SYMBOLS.get(p) or _SYMBOL_WORDS.get(p, p) for p in parts)
    return " ".join(p for p in spoken if p.strip())


def _url(m: re.Match, british: bool) -> str:
    return _spell_address(re.sub(r"^[a-z]+://", "", m.group(0)))


def _email(m: re.Match, british: bool) -> str:
    return _spell_address(m.group(0))


def _date_words(year: int | None, month: int, day: int, british: bool) -> str:
    name = calendar.month_name[month]
    nth = nw.ordinal(day, british)
    spoken = f"the {nth} of {name}" if british else f"{name} {nth}"
    return f"{spoken}, {nw.year(year, british)}" if year is not None else spoken


def _iso_date(m: re.Match, british: bool) -> str:
    return _date_words(int(m["y"]), int(m["mo"]), int(m["d"]), british)


def _numeric_date(m: re.Match, british: bool) -> str:
    a, b, y = int(m["a"]), int(m["b"]), int(m["y"])
    month, day = (b, a) if british else (a, b)
    if month > 12:
        month, day = day, month
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return " slash ".join(nw.integer(g, british) for g in (m["a"], m["b"], m["y"]))
    return _date_words(y, month, day, british)


def _month_day(m: re.Match, british: bool) -> str:
    month, day = _MONTH_NUMBER[m["mon"]], int(m["d"])
    if not 1 <= day <= 31:
        return f"{calendar.month_name[month]} {nw.integer(m['d'], british)}" + (
            f", {nw.year(int(m['y']), british)}" if m["y"] else ""
        )
    return _date_words(int(m["y"]) if m["y"] else None, month, day, british)


def _day_month(m: re.Match, british: bool) -> str:
    return _date_words(int(m["y"]) if m["y"] else None, _MONTH_NUMBER[m["mon"]], int(m["d"]), True)


def _ampm(m: re.Match) -> str:
    if not m["ap"]:
        return ""
    words = " A M" if m["ap"] in "Aa" else " P M"
    return words + ("." if m.group(0).endswith(".") and _ends_sentence(m) else "")


def _time(m: re.Match, british: bool) -> str:
    hour, minute = int(m["h"]), int(m["mi"])
    if minute == 0:
        words = nw.cardinal(hour, british) + ("" if m["ap"] else " o'clock" if hour <= 12 else " hundred")
    elif minute < 10:
        words = f"{nw.cardinal(hour, british)} oh {nw.cardinal(minute, british)}"
    else:
        words = f"{nw.cardinal(hour, british)} {nw.cardinal(minute, british)}"
    if m["s"]:
        seconds = int(m["s"])
        words += f" and {nw.cardinal(seconds, british)} second{'' if seconds == 1 else 's'}"
    return words + _ampm(m)


def _hour(m: re.Match, british: bool) -> str:
    return nw.cardinal(int(m["h"]), british) + _ampm(m)


def _phone(m: re.Match, british: bool) -> str:
    return ", ".join(nw.digits(g) for g in re.findall(r"\d+", m.group(0)))


def _money(m: re.Match, british: bool) -> str:
    one, many, sub_one, sub_many = _CURRENCIES[m["sym"]]
    sign = "minus " if m["neg"] else ""
    if m["scale"]:
        amount = nw.decimal(m["a"], british) + (f" to {nw.decimal(m['b'], british)}" if m["b"] else "")
        return f"{sign}{amount} {_SCALES[m['scale']]} {many}"
    if m["b"]:
        return f"{sign}{nw.decimal(m['a'], british)} to {nw.decimal(m['b'], british)} {many}"
    whole, _, frac = m["a"].replace(",", "").partition(".")
    if len(frac) != 2 or not sub_one:
        return f"{sign}{nw.decimal(m['a'], british)} {one if nw.is_one(m['a']) else many}"
    parts = []
    if int(whole or 0):
        parts.append(f"{nw.integer(whole, british)} {one if int(whole) == 1 else many}")
    if int(frac):
        parts.append(f"{nw.cardinal(int(frac), british)} {sub_one if int(frac) == 1 else sub_many}")
    return sign + (" and ".join(parts) or f"zero {many}")


def _quantity(m: re.Match, british: bool) -> str:
    one, many = _UNITS[m["unit"]]
    words = ("minus " if m["neg"] else "") + nw.decimal(m["a"], british)
    if m["b"]:
        words += " to " + ("minus " if m["negb"] else "") + nw.decimal(m["b"], british)
    single = not m["b"] and not m["neg"] and nw.is_one(m["a"])
    return _british(f"{words} {one if single else many}", british)


def _range(m: re.Match, british: bool) -> str:
    return f"{nw.decimal(m['a'], british)} to {nw.decimal(m['b'], british)}"


def _decade(m: re.Match, british: bool) -> str:
    n = int(m["n"])
    return nw.plural_number_word(nw.year(n, british) if n >= 1000 else nw.cardinal(n, british))


def _ordinal(m: re.Match, british: bool) -> str:
    return nw.ordinal(int(m["n"]), british)


def _fraction(m: re.Match, british: bool) -> str:
    words = nw.fraction(int(m["n"]), int(m["d"]), british)
    return f"{nw.integer(m['w'], british)} and {words}" if m["w"] else words


def _negative(m: re.Match, british: bool) -> str:
    return "minus " + nw.decimal(m["n"], british)


def _number(m: re.Match, british: bool) -> str:
    text = m.group(0)
    if text.isdecimal() and len(text) == 4 and 1100 <= int(text) <= 2099:
        return nw.year(int(text), british)
    return nw.decimal(text, british)


def _title(m: re.Match, british: bool) -> str:
    return _TITLES[m["abbr"]]


def _saint_or_doctor(m: re.Match, british: bool) -> str:
    """``St.``/``Dr.`` before a name: Saint/Doctor; after one (``Baker St.``): Street/Drive."""
    after_name = re.search(r"\b[A-Z][a-z]+\s$", m.string[: m.start()]) is not None
    before_name = re.match(r"\s+[A-Z]", m.string[m.end() :]) is not None
    if before_name and not (after_name and m["abbr"] == "St"):
        return {"St": "Saint", "Dr": "Doctor"}[m["abbr"]]
    return {"St": "Street", "Dr": "Drive"}[m["abbr"]] + ("." if _ends_sentence(m) else "")


def _trailing_abbr(m: re.Match, british: bool) -> str:
    if m["vs"]:
        return "versus"
    return _TRAILING[m["abbr"]] + ("." if _ends_sentence(m) else "")


def _initial(m: re.Match, british: bool) -> str:
    return m["letter"]


def _optional_plural(m: re.Match, british: bool) -> str:
    return m["word"] + "s"


def _symbol(m: re.Match, british: bool) -> str:
    return _SYMBOL_WORDS[m.group(0)]


def _fixed(text: str) -> Handler:
    return lambda m, british: text


def _override(m: re.Match, british: bool) -> str:
    return m.group(1)


def _host(chars: str) -> str:
    """A host name of ``chars``: labels of at most 63 characters (DNS), at most 17 of them.
    The bounds keep each match attempt short, so scanning a long run without spaces stays linear."""
    return rf"[{chars}]{{1,63}}(?:\.[{chars}]{{1,63}}){{0,16}}"


def _c(pattern: str, flags: int = 0) -> re.Pattern:
    return re.compile(pattern, flags)


RULES: tuple[Rule, ...] = (
    Rule("override", OVERRIDE_RE, _override),
    Rule("email", _c(rf"[\w.+-]{{1,64}}@{_host('A-Za-z0-9-')}\.[A-Za-z]{{2,63}}"), _email),
    Rule(
        "url",
        _c(
            r"(?:\b[a-z]+://|\bwww\.)[^\s\"<>]*[^\s\"<>.,;:!?)]"
            rf"|\b{_host('a-z0-9-')}\.(?:com|org|net|io|ai|dev|edu|gov)\b(?:/[^\s\"<>]*[^\s\"<>.,;:!?)])?"
        ),
        _url,
    ),
    Rule("iso_date", _c(r"\b(?P<y>\d{4})-(?P<mo>0[1-9]|1[0-2])-(?P<d>0[1-9]|[12]\d|3[01])\b"), _iso_date),
    Rule("numeric_date", _c(r"\b(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<y>\d{4}|\d{2})\b"), _numeric_date),
    Rule(
        "month_day",
        _c(rf"\b(?P<mon>{_MONTH_RE})\.?\s(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s(?P<y>\d{{4}})\b)?"),
        _month_day,
    ),
    Rule(
        "day_month",
        _c(rf"\b(?P<d>[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?\s(?P<mon>{_MONTH_RE})\b\.?(?:,?\s(?P<y>\d{{4}})\b)?"),
        _day_month,
    ),
    Rule(
        "time",
        _c(
            r"\b(?P<h>[01]?\d|2[0-3]):(?P<mi>[0-5]\d)(?::(?P<s>[0-5]\d))?(?!\d)"
            r"(?:\s?(?P<ap>[AaPp])\.?[Mm]\b\.?)?"
        ),
        _time,
    ),
    Rule("hour", _c(r"\b(?P<h>1[0-2]|0?[1-9])\s?(?P<ap>[AaPp])\.?[Mm]\b\.?"), _hour),
    Rule("phone", _c(r"\b(?:1[-. ])?\(?\d{3}\)?[-. ]\d{3}[-.]\d{4}\b"), _phone),
    Rule(
        "money",
        _c(
            rf"{_START}(?P<neg>-)?(?P<sym>[$£€¥])\s?(?P<a>{NUM})"
            rf"(?:\s?(?:[–-]|to)\s?[$£€¥]?(?P<b>{NUM}))?"
            rf"(?:\s?(?P<scale>{'|'.join(sorted(_SCALES, key=len, reverse=True))})\b)?"
        ),
        _money,
    ),
    Rule(
        "quantity",
        _c(
            rf"{_START}(?P<neg>-)?(?P<a>{NUM})(?:\s?(?:[–-]|to)\s?(?P<negb>-)?(?P<b>{NUM}))?"
            rf"\s?(?P<unit>{_UNIT_RE})(?![\w²])"
        ),
        _quantity,
    ),
    Rule("range", _c(rf"{_START}(?P<a>{NUM})\s?[–-]\s?(?P<b>{NUM})(?![\d])"), _range),
    Rule("decade", _c(r"(?<![\w.])'?(?P<n>\d{0,2}\d0)'?s\b"), _decade),
    Rule("ordinal", _c(r"\b(?P<n>\d+)(?:st|nd|rd|th)\b"), _ordinal),
    Rule("fraction", _c(r"\b(?:(?P<w>\d+)\s)?(?P<n>\d+)/(?P<d>\d+)\b"), _fraction),
    Rule("negative", _c(rf"{_START}-(?P<n>{NUM})"), _negative),
    Rule("number", _c(NUM), _number),
    Rule("initial", _c(r"(?<![\w.])(?P<letter>[A-Z])\.(?=\s+[A-Z])"), _initial),
    Rule("optional_plural", _c(r"\b(?P<word>[A-Za-z]+)\(s\)"), _optional_plural),
    Rule("title", _c(rf"\b(?P<abbr>{'|'.join(_TITLES)})\.(?=\s)"), _title),
    Rule("saint_doctor", _c(r"\b(?P<abbr>St|Dr)\.(?!\w)"), _saint_or_doctor),
    Rule(
        "trailing_abbr",
        _c(
            rf"(?<![\w.])(?P<abbr>{'|'.join(re.escape(a) for a in _TRAILING)})\.(?!\w)"
            r"|(?<![\w.])(?P<vs>vs)\b(?!\.)"
        ),
        _trailing_abbr,
    ),
    Rule("number_sign", _c(r"#(?=\s?\d)|\bNo\.(?=\s?\d)"), _fixed("number")),
    Rule("sharp", _c(r"\b(?P<note>[A-G])#(?![\w#])"), lambda m, british: f"{m['note']} sharp"),
    Rule("hashtag", _c(r"#(?=[^\W\d_])"), _fixed("hashtag")),
    Rule("symbol", _c(r"[&+@=×%°±→#²³]|(?<=[A-Za-z])/(?=[A-Za-z])|(?<=\s)[<>](?=\s)"), _symbol),
    Rule("ellipsis", _c(r"\.{2,}|…+"), _fixed("…"), is_word=False),
    Rule("dash", _c(r"-{2,}|(?<=\s)[-–](?=\s)|–|—+"), _fixed("—"), is_word=False),
    Rule("repeated_punct", _c(r"([!?,;:])\1+"), lambda m, b: m.group(1), is_word=False),
)
