"""Survey country spellings → ISO 3166 codes, plus localised names and main languages from CLDR.

Localised names of sub-national populations (CLDR via babel has none) come from
``resources/countries/subnational_names.csv``.

One tested mapping table, ``resources/countries/survey_names.csv`` (columns
``survey_name, code, sample, note``), decides how every spelling found in the shipped surveys maps:

* ``code`` is ISO 3166-1 alpha-2 (``GB``), an ISO 3166-2 code for a separate sub-national
  population (``GB-NIR``: Northern Ireland is its own EVS sample, never merged into ``GB``), or
  empty for rows that are left out (regions such as "Arab countries", Hofstede's sub-national rows).
* ``sample`` is ``national``, ``non-national`` (Pew "(Non-national sample)": kept apart, importers
  leave it out of ``targets`` and count it) or ``excluded``.
* ``note`` documents every non-obvious decision.

Lookups are exact after whitespace normalisation and case folding. Names that are not in the
table are still accepted when they are an ISO 3166-1 alpha-2 code (``DE``), an ISO 3166-2 code used
in the table (``GB-NIR``), or exactly CLDR's English name of a country (``Kenya``); all three are
``national``.

Pew's sample suffixes are a RULE, not one table row each: a name "<country> (<kind> sample)" maps
to the code of "<country>" (looked up as above) with

* ``national`` when ``<kind>`` is exactly "national", "current national" or "new national";
* ``national`` with precedence 1 when ``<kind>`` is "old national" (or "previous national"): an
  earlier national sample of the same country. It is used as the country's target, but where the
  current (or plain) national sample answers the same item, the current one wins — see
  :func:`precedence` (importers report the choice);
* ``non-national`` for every other kind ("Non-national", "urban", "rural", "regional", …): only a
  sample the survey itself calls national may stand for the country; the rest are kept apart
  (importers leave them out of ``targets`` and count them) and never merged into national targets.

A suffix on a name that is itself excluded or non-national keeps that sample kind.
:func:`lookup` returns None for a name it cannot map; :func:`to_code` raises
:class:`UnknownCountry` (an :class:`~culturelens.errors.InputError`) for it. Importers decide what
an unknown name means (:class:`culturelens.surveys.common.CountryMapper`: reported and left out,
or an error with ``strict_countries``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import babel
import pandas as pd
from babel.core import get_global

from culturelens.errors import InputError

#: The shipped mapping table.
TABLE_PATH = Path(__file__).resolve().parents[2] / "resources" / "countries" / "survey_names.csv"
#: Names of the sub-national populations in the template languages (CLDR has none).
SUBNATIONAL_PATH = TABLE_PATH.with_name("subnational_names.csv")

SAMPLES = ("national", "non-national", "excluded")
TABLE_COLUMNS = ["survey_name", "code", "sample", "note"]

# CLDR territory codes that are two letters but not countries.
_PSEUDO_TERRITORIES = {"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"}
# Pew marks the kind of sample after the country name: "<country> (<kind> sample)".
_SAMPLE_SUFFIX = re.compile(r"^(?P<base>.*?\S)\s*\(\s*(?P<kind>[^()]*?)\s*sample\s*\)$", re.IGNORECASE)
_NATIONAL_KINDS = {"national": 0, "current national": 0, "new national": 0, "old national": 1,
                   "previous national": 1}
# Official statuses counted as a country's main languages ("official" incl. de facto).
_OFFICIAL = {"official", "de_facto_official"}


def _norm(name: str) -> str:
    """Key for lookups: collapse whitespace, case-fold, unify apostrophes."""
    return " ".join(str(name).replace("\u2019", "'").split()).casefold()


def load_name_table(path: str | Path | None = None) -> pd.DataFrame:
    """Load and validate the survey-name table (default: the shipped one). Returns a copy."""
    return _load_table(str(path or TABLE_PATH)).copy()


@lru_cache(maxsize=8)
def _load_table(path: str) -> pd.DataFrame:
    if not Path(path).is_file():
        raise InputError(path, "file", "an existing country-name table (CSV)")
    # keep_default_na=False: "NA" (Namibia) must not become NaN
    table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(path, "columns", f"columns {TABLE_COLUMNS}", list(table.columns))
    table = table[TABLE_COLUMNS].apply(lambda col: col.str.strip())
    territories = _territory_codes()
    seen: dict[str, int] = {}
    for i, row in enumerate(table.itertuples(index=False), start=2):
        where = f"{path}:{i}"
        if not row.survey_name:
            raise InputError(where, "survey_name", "a non-empty name")
        if row.sample not in SAMPLES:
            raise InputError(where, "sample", f"one of {list(SAMPLES)}", row.sample)
        if row.sample == "excluded":
            if row.code:
                raise InputError(where, "code", "empty for an excluded row", row.code)
        elif not _valid_code(row.code, territories):
            raise InputError(where, "code", "an ISO 3166-1 alpha-2 or ISO 3166-2 code", row.code)
        key = _norm(row.survey_name)
        if key in seen:
            raise InputError(where, "survey_name", f"a name not already on line {seen[key]}", row.survey_name)
        seen[key] = i
    return table


def _valid_code(code: str, territories: set[str]) -> bool:
    if code in territories:
        return True
    country, _, sub = code.partition("-")  # ISO 3166-2: CC-XXX
    return country in territories and 1 <= len(sub) <= 3 and sub.isalnum() and sub.isupper()


def is_code(code: str) -> bool:
    """An ISO 3166-1 alpha-2 code known to CLDR, or an ISO 3166-2 subdivision of one (GB-NIR)."""
    return _valid_code(code, _territory_codes())


def language_name_en(code: str) -> str:
    """English name of a language code (CLDR: ``de`` → German, ``pt_BR`` or ``pt-BR`` → Brazilian
    Portuguese), or the code itself."""
    code = str(code)
    names = _locale("en").languages
    return names.get(code) or names.get(code.replace("-", "_")) or code


def from_iso_alias(code: str) -> str | None:
    """The alpha-2 code an ISO 3166-1 alpha-3 (``DEU``) or numeric (``276``, ``004``) code stands for,
    through CLDR's territory aliases; None when CLDR maps it to no single current country (``SUN``)."""
    from babel.core import get_global

    key = str(code).strip()
    alias = get_global("territory_aliases").get(key.zfill(3) if key.isdigit() else key)
    return alias[0] if alias and len(alias) == 1 and is_code(alias[0]) else None


@lru_cache(maxsize=1)
def _territory_codes() -> set[str]:
    """ISO 3166-1 alpha-2 codes known to CLDR (no numeric regions, no pseudo codes)."""
    names = babel.Locale("en").territories
    return {c for c in names if len(c) == 2 and c.isalpha() and c not in _PSEUDO_TERRITORIES}


@lru_cache(maxsize=8)
def _lookup(path: str) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """(normalised survey name → (code, sample), sub-national code → English name)."""
    table = _load_table(path)
    by_name = {_norm(r.survey_name): (r.code, r.sample) for r in table.itertuples(index=False)}
    sub_names: dict[str, str] = {}
    for r in table.itertuples(index=False):
        if "-" in r.code and r.sample == "national":
            sub_names.setdefault(r.code, r.survey_name)
    return by_name, sub_names


@lru_cache(maxsize=1)
def _cldr_english_names() -> dict[str, str]:
    names = babel.Locale("en").territories
    return {_norm(n): c for c, n in names.items() if c in _territory_codes()}


#: What an unknown country name should have been (error messages and import notes).
UNKNOWN_EXPECTED = (f"a country name listed in {TABLE_PATH.name} (resources/countries/), a CLDR English "
                    "country name, an ISO 3166-1 alpha-2 code, or one of these with a Pew sample suffix")


class UnknownCountry(InputError):
    """A country name that neither the table nor the rules of this module know."""


def _suffix(name: str) -> tuple[str, str, int] | None:
    """``(base name, sample, precedence)`` for a Pew "<country> (<kind> sample)" name, else None."""
    m = _SAMPLE_SUFFIX.match(" ".join(str(name).split()))
    if not m:
        return None
    kind = " ".join(m.group("kind").split()).casefold()
    if kind in _NATIONAL_KINDS:
        return m.group("base"), "national", _NATIONAL_KINDS[kind]
    return m.group("base"), "non-national", 0


def precedence(name: str) -> int:
    """0 for a country's current (or only) sample, 1 for an "(Old national sample)": when two
    survey names of one country answer one item, the lower precedence wins (ties: the first)."""
    if _norm(name) in _lookup(str(TABLE_PATH))[0]:
        return 0
    parsed = _suffix(name)
    return parsed[2] if parsed else 0


def lookup(name: str) -> tuple[str, str] | None:
    """``(code, sample)`` for a country spelling (see the module docstring), None if unknown."""
    if not isinstance(name, str) or not name.strip():
        return None
    by_name, sub_names = _lookup(str(TABLE_PATH))
    key = _norm(name)
    if key in by_name:
        return by_name[key]
    upper = " ".join(name.split()).upper()
    if upper in _territory_codes() or upper in sub_names:
        return upper, "national"
    if key in _cldr_english_names():
        return _cldr_english_names()[key], "national"
    parsed = _suffix(name)
    if parsed is not None:
        base, sample, _ = parsed
        found = lookup(base)
        if found is None:
            return None
        code, base_sample = found
        return (code, sample) if base_sample == "national" else (code, base_sample)
    return None


def to_code(name: str, *, file: str | Path | None = None) -> tuple[str, str]:
    """Map a survey's country spelling to ``(code, sample)``.

    ``sample`` is ``national``, ``non-national`` or ``excluded`` (code ``""``). Unknown names raise
    :class:`UnknownCountry` naming ``file`` (the survey being imported), field ``country`` and the name.
    """
    source = str(file) if file is not None else str(TABLE_PATH)
    if not isinstance(name, str) or not name.strip():
        raise InputError(source, "country", "a non-empty country name or ISO code", name)
    found = lookup(name)
    if found is None:
        raise UnknownCountry(source, "country", UNKNOWN_EXPECTED, name)
    return found


def _locale(lang: str) -> babel.Locale:
    try:
        return babel.Locale.parse(lang)
    except (ValueError, TypeError, babel.UnknownLocaleError) as exc:
        raise InputError("<language>", "lang", "a CLDR language code such as 'en' or 'de'", lang) from exc


@lru_cache(maxsize=1)
def _subnational_names() -> dict[tuple[str, str], str]:
    """(sub-national code, language) → name, from the shipped ``subnational_names.csv``."""
    path = SUBNATIONAL_PATH
    if not path.is_file():
        raise InputError(path, "file", "the shipped table of sub-national names (CSV)")
    table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    if list(table.columns) != ["code", "lang", "name"]:
        raise InputError(path, "columns", "columns ['code', 'lang', 'name']", list(table.columns))
    out: dict[tuple[str, str], str] = {}
    for i, row in enumerate(table.itertuples(index=False), start=2):
        if not (row.code and row.lang and row.name.strip()):
            raise InputError(f"{path}:{i}", "name", "a code, a language and a non-empty name", tuple(row))
        if (row.code, row.lang) in out:
            raise InputError(f"{path}:{i}", "code", "one row per (code, lang)", (row.code, row.lang))
        out[(row.code, row.lang)] = row.name.strip()
    return out


@lru_cache(maxsize=None)
def name(code: str, lang: str) -> str:
    """The country's name in language ``lang`` (cached: the CLDR data and the shipped table are fixed).

    Countries: CLDR's name in that language (via babel). Sub-national ISO 3166-2 codes (``GB-NIR``)
    have no CLDR name (babel ships no subdivision names): they come from
    ``resources/countries/subnational_names.csv`` (``code, lang, name``); a missing language is an
    InputError naming that file, never an English name inside a prompt in another language.
    """
    locale = _locale(lang)
    if code in _territory_codes():
        return locale.territories.get(code) or babel.Locale("en").territories[code]
    _, sub_names = _lookup(str(TABLE_PATH))
    if code in sub_names:
        localised = _subnational_names()
        for key in (lang, locale.language):
            if (code, key) in localised:
                return localised[(code, key)]
        raise InputError(SUBNATIONAL_PATH, "name", f"a row for {code} in language '{lang}'")
    raise InputError("<country code>", "country", "an ISO 3166-1 alpha-2 code or a code from the country table", code)


#: An official language counts as a main language of a country if CLDR says at least this share of
#: the population uses it (first or second language), or if it is the country's most widely used
#: official language. See :func:`main_languages`.
MAIN_LANGUAGE_MIN_SHARE = 25.0


def _country(code: str) -> str:
    country = code.split("-", 1)[0] if isinstance(code, str) else code
    if country not in _territory_codes():
        raise InputError("<country code>", "country", "an ISO 3166-1 alpha-2 code", code)
    return country


def _languages(country: str) -> list[dict]:
    """The country's CLDR languages with a two-letter ISO 639-1 code, most widely used first.

    Script/region variants are merged under the bare code (``zh_Hant`` → ``zh``), keeping the
    largest share and the strongest status; each entry: lang, cldr (the CLDR code of the largest
    variant), share (population percent, first + second language), official (bool).
    """
    merged: dict[str, dict] = {}
    for cldr, info in get_global("territory_languages").get(country, {}).items():
        bare = cldr.split("_", 1)[0]
        if len(bare) != 2:
            continue  # no ISO 639-1 code (gsw, yue, fil, pcm, ...): no template can exist
        share = float(info.get("population_percent") or 0.0)
        official = info.get("official_status") in _OFFICIAL
        entry = merged.setdefault(bare, {"lang": bare, "cldr": cldr, "share": share, "official": official})
        if share > entry["share"]:
            entry.update(cldr=cldr, share=share)
        entry["official"] = entry["official"] or official
    return sorted(merged.values(), key=lambda e: (-e["share"], e["lang"]))


def main_languages(code: str) -> list[str]:
    """A country's main languages, most widely used first, as ISO 639-1 codes (CLDR data via babel).

    The rule, applied to CLDR's territory data (population share = first- and second-language users):

    1. official and de facto official languages used by at least ``MAIN_LANGUAGE_MIN_SHARE`` (25 %)
       of the population, plus the most widely used official language whatever its share;
    2. if CLDR lists no official language, every language used by at least 25 % (or, if none is,
       the most widely used one).

    Official languages that only a small part of the population uses are not main languages:
    German in Belgium (22 %; first language of about 1 %), Arabic in Israel (20 %), English in India
    and Kenya (19 %) and Uganda (4 %). Script/region variants are merged (``zh_Hant`` → ``zh``) and
    languages without a two-letter code (``gsw``, ``fil``) are left out. Sub-national codes use their
    country's languages (``GB-NIR`` → ``GB``).
    """
    return list(_main_languages(code))


@lru_cache(maxsize=None)
def _main_languages(code: str) -> tuple[str, ...]:
    """main_languages, cached (CLDR data is fixed for the process)."""
    langs = _languages(_country(code))
    official = [e for e in langs if e["official"]]
    if official:
        chosen = [e for e in official if e is official[0] or e["share"] >= MAIN_LANGUAGE_MIN_SHARE]
    else:
        chosen = [e for e in langs if e["share"] >= MAIN_LANGUAGE_MIN_SHARE] or langs[:1]
    return tuple(e["lang"] for e in chosen)


def native_language(code: str, available: Iterable[str]) -> str | None:
    """The country's prompt language: its most widely used main language in ``available``.

    ``available`` is usually the template languages. None if no main language has a template: the
    country is then left out of linguistic prompting (no fallback to a non-official lingua franca,
    which would repeat the English default prompt and not be in a language of the country).
    """
    have = set(available)
    return next((lang for lang in main_languages(code) if lang in have), None)


def language_info(code: str, available: Iterable[str]) -> dict:
    """One row of the country → prompt-language table (see ``native_language``).

    Keys: country, name (English), language (prompt language or ""), cldr_language, population_share,
    official, main_languages (";"-joined), most_spoken (the most widely used language of any status,
    with a two-letter code) and its share, and ``reason`` when there is no prompt language.
    """
    country = _country(code)
    langs = {e["lang"]: e for e in _languages(country)}
    main = main_languages(code)
    lang = native_language(code, available)
    top = next(iter(langs.values()), None)
    row = {
        "country": code, "name": name(code, "en"), "language": lang or "",
        "cldr_language": langs[lang]["cldr"] if lang else "",
        "population_share": langs[lang]["share"] if lang else float("nan"),
        "official": bool(langs[lang]["official"]) if lang else False,
        "main_languages": ";".join(main),
        "most_spoken": top["lang"] if top else "", "most_spoken_share": top["share"] if top else float("nan"),
        "reason": "",
    }
    if lang is None:
        row["reason"] = "no template for its main languages (" + ", ".join(
            f"{m} {langs[m]['share']:g} %" for m in main) + ")"
    return row
