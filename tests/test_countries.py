"""The country table and CLDR look-ups."""

import ast
from pathlib import Path

import pandas as pd
import pytest

from culturelens import countries
from culturelens.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
GOQA = ROOT / "resources/surveys/goqa/global_opinions_sample.csv"
HOFSTEDE = ROOT / "resources/surveys/hofstede/6-dimensions-for-website-2015-08-16.csv"
WVS = ROOT / "resources/surveys/wvs_stance/ground_truth_every_country.csv"


def goqa_names() -> set[str]:
    names = set()
    for text in pd.read_csv(GOQA)["selections"]:
        names |= set(ast.literal_eval(text[text.index("{"): text.rindex("}") + 1]))
    return names


def test_table_columns_and_values():
    table = countries.load_name_table()
    assert list(table.columns) == ["survey_name", "code", "sample", "note"]
    assert set(table["sample"]) <= {"national", "non-national", "excluded"}
    assert (table.loc[table["sample"] == "excluded", "code"] == "").all()
    assert (table.loc[table["sample"] != "excluded", "code"] != "").all()


def test_every_goqa_name_maps():
    names = goqa_names()
    assert len(names) == 123
    for name in names:
        code, sample = countries.to_code(name)
        assert sample in ("national", "non-national")
        assert code


def test_every_hofstede_row_maps_and_regions_are_excluded():
    hof = pd.read_csv(HOFSTEDE, sep=";", dtype=str, keep_default_na=False)
    assert len(hof) == 110
    result = {n: countries.to_code(n) for n in hof["country"]}
    excluded = {n for n, (_, s) in result.items() if s == "excluded"}
    assert {"Arab countries", "Africa West", "Africa East", "Canada French", "Belgium Netherl",
            "Switzerland German", "Germany East", "South Africa white"} <= excluded
    assert len(excluded) == 10
    assert result["U.S.A."] == ("US", "national")
    assert result["Korea South"] == ("KR", "national")


def test_every_wvs_stance_code_maps():
    codes = set(pd.read_csv(WVS, dtype=str)["cntry_an"])
    mapped = {c: countries.to_code(c) for c in codes}
    assert mapped["NIR"] == ("GB-NIR", "national")
    assert mapped["GB"] == ("GB", "national")
    assert len({code for code, _ in mapped.values()}) == 13


@pytest.mark.parametrize("a,b,code", [
    ("Britain", "Great Britain", "GB"), ("S. Korea", "South Korea", "KR"), ("Czech Rep.", "Czechia", "CZ"),
    ("Taiwan", "Taiwan ROC", "TW"),
])
def test_spellings_merge(a, b, code):
    assert countries.to_code(a) == countries.to_code(b) == (code, "national")


@pytest.mark.parametrize("name,expected", [
    ("Palest. ter.", ("PS", "national")), ("Hong Kong SAR", ("HK", "national")),
    ("Macau SAR", ("MO", "national")), ("Northern Ireland", ("GB-NIR", "national")),
    ("India (Current national sample)", ("IN", "national")),
    ("India (Non-national sample)", ("IN", "non-national")),
    ("Brazil (Non-national sample)", ("BR", "non-national")),
    ("Arab countries", ("", "excluded")),
])
def test_decisions(name, expected):
    assert countries.to_code(name) == expected


def test_sample_suffixes_are_a_rule_not_rows():
    table = countries.load_name_table()
    assert not table["survey_name"].str.contains(r"sample\)\s*$", case=False).any()


# Every survey name (key of `selections`) of the official global_opinions.csv (2,556 questions),
# as enumerated by public GlobalOpinionQA code that maps each name (the file itself is not shipped).
OFFICIAL_GOQA_NAMES = """
Albania|Andorra|Angola|Angola (Non-national sample)|Argentina|Armenia|Australia|Austria|Azerbaijan|Bangladesh|
Bangladesh (Non-national sample)|Belarus|Belgium|Bolivia|Bolivia (Non-national sample)|Bosnia Herzegovina|Brazil|
Brazil (Non-national sample)|Britain|Bulgaria|Burkina Faso|Canada|Chile|China|China (Non-national sample)|Colombia|
Colombia (Non-national sample)|Croatia|Cyprus|Czech Rep.|Czechia|Denmark|Ecuador|Egypt|Egypt (Non-national sample)|
El Salvador|Estonia|Ethiopia|Ethiopia (Non-national sample)|Finland|France|Georgia|Germany|Ghana|Great Britain|
Greece|Guatemala|Guatemala (Non-national sample)|Honduras|Honduras (Non-national sample)|Hong Kong SAR|Hungary|
Iceland|India (Current national sample)|India (Non-national sample)|India (Old national sample)|Indonesia|
Indonesia (Non-national sample)|Iran|Iraq|Israel|Italy|Ivory Coast|Ivory Coast (Non-national sample)|Japan|Jordan|
Jordan (Non-national sample)|Kazakhstan|Kenya|Kuwait|Kyrgyzstan|Latvia|Lebanon|Libya|Lithuania|Macau SAR|Malaysia|
Maldives|Mali|Mali (Non-national sample)|Mexico|Mongolia|Montenegro|Morocco|Morocco (Non-national sample)|Myanmar|
Netherlands|New Zealand|Nicaragua|Nigeria|Nigeria (Non-national sample)|North Macedonia|Northern Ireland|Norway|
Pakistan|Pakistan (Non-national sample)|Palest. ter.|Peru|Philippines|Philippines (Non-national sample)|Poland|
Poland (Non-national sample)|Portugal|Puerto Rico|Romania|Russia|Russia (Non-national sample)|S. Africa|
S. Africa (Non-national sample)|S. Korea|Senegal|Senegal (Non-national sample)|Serbia|Singapore|Slovakia|Slovenia|
South Korea|Spain|Sweden|Switzerland|Taiwan|Taiwan ROC|Tajikistan|Tanzania|Tanzania (Non-national sample)|Thailand|
Tunisia|Turkey|Uganda|Ukraine|United States|Uruguay|Uzbekistan|Venezuela|Venezuela (Non-national sample)|Vietnam|
Vietnam (Non-national sample)|Zimbabwe
"""
OFFICIAL_GOQA_NAMES = [n.strip() for n in OFFICIAL_GOQA_NAMES.replace("\n", "").split("|")]


def test_every_official_goqa_name_maps():
    assert len(OFFICIAL_GOQA_NAMES) == len(set(OFFICIAL_GOQA_NAMES)) == 138
    assert goqa_names() <= set(OFFICIAL_GOQA_NAMES)
    for name in OFFICIAL_GOQA_NAMES:
        code, sample = countries.to_code(name)
        assert code and sample == ("non-national" if "Non-national" in name else "national"), name
    assert countries.to_code("India (Old national sample)") == ("IN", "national")


@pytest.mark.parametrize("name,code", [
    ("Egypt", "EG"), ("Lebanon", "LB"), ("Tunisia", "TN"), ("Palest. ter.", "PS"), ("Venezuela", "VE"),
    ("Bolivia", "BO"), ("Ivory Coast", "CI"), ("Bosnia Herzegovina", "BA"), ("Macedonia", "MK"),
    ("North Macedonia", "MK"), ("Kosovo", "XK"), ("Taiwan ROC", "TW"), ("Hong Kong SAR", "HK"),
    ("Macau SAR", "MO"), ("Puerto Rico", "PR"), ("Great Britain", "GB"), ("Northern Ireland", "GB-NIR"),
    ("Czech Rep.", "CZ"), ("Slovak Republic", "SK"), ("S. Korea", "KR"), ("South Korea", "KR"), ("Russia", "RU"),
    ("Vietnam", "VN"), ("Laos", "LA"), ("Honduras", "HN"), ("Kuwait", "KW"), ("Angola", "AO"), ("Iceland", "IS"),
])
def test_spellings_of_the_full_file_map(name, code):
    assert countries.to_code(name) == (code, "national")


@pytest.mark.parametrize("name,expected,rank", [
    ("India (Old national sample)", ("IN", "national"), 1),
    ("India (Current national sample)", ("IN", "national"), 0),
    ("Kenya (National sample)", ("KE", "national"), 0),
    ("Pakistan (Non-national sample)", ("PK", "non-national"), 0),
    ("Nigeria (non-national  sample)", ("NG", "non-national"), 0),
    ("Brazil (Urban sample)", ("BR", "non-national"), 0),
    ("Mexico (Rural sample)", ("MX", "non-national"), 0),
    ("S. Africa (Non-national sample)", ("ZA", "non-national"), 0),
    ("Arab countries (National sample)", ("", "excluded"), 0),
    ("India", ("IN", "national"), 0),
])
def test_sample_suffix_rule(name, expected, rank):
    assert countries.to_code(name) == expected
    assert countries.precedence(name) == rank


def test_unknown_name_is_none_for_lookup_and_error_for_to_code():
    assert countries.lookup("Atlantis") is None and countries.lookup("Atlantis (Old national sample)") is None
    assert countries.lookup("Kenya (Parliament)") is None  # not a sample suffix
    with pytest.raises(countries.UnknownCountry):
        countries.to_code("Atlantis")


def test_lookup_normalises_whitespace_and_case_and_accepts_codes():
    assert countries.to_code("  great   BRITAIN ") == ("GB", "national")
    assert countries.to_code("de") == ("DE", "national")
    assert countries.to_code("GB-NIR") == ("GB-NIR", "national")
    assert countries.to_code("Kenya") == ("KE", "national")  # CLDR English name
    assert countries.to_code("NA") == ("NA", "national")  # Namibia, not a missing value


def test_unknown_name_error_names_file_and_field():
    with pytest.raises(InputError) as err:
        countries.to_code("Atlantis", file="my_survey.csv")
    assert err.value.file == "my_survey.csv"
    assert err.value.field == "country"
    assert "Atlantis" in str(err.value) and "my_survey.csv" in str(err.value)
    with pytest.raises(InputError):
        countries.to_code("EU")  # CLDR pseudo-territory, not a country


def test_bad_table_is_input_error(tmp_path):
    bad = tmp_path / "names.csv"
    bad.write_text("survey_name,code,sample,note\nFoo,XX1,national,\n")
    with pytest.raises(InputError, match="code"):
        countries.load_name_table(bad)
    dup = tmp_path / "dup.csv"
    dup.write_text("survey_name,code,sample,note\nFoo,DE,national,\n foo ,AT,national,\n")
    with pytest.raises(InputError, match="survey_name"):
        countries.load_name_table(dup)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("survey_name,code,sample,note\nFoo,DE,partial,\n")
    with pytest.raises(InputError, match="sample"):
        countries.load_name_table(wrong)


def test_names_from_cldr():
    assert countries.name("US", "de") == "Vereinigte Staaten"
    assert countries.name("JP", "en") == "Japan"
    with pytest.raises(InputError):
        countries.name("US", "not-a-language")
    with pytest.raises(InputError):
        countries.name("QQ", "en")


TEMPLATE_LANGS = ["ar", "de", "en", "es", "hi", "ja", "pt", "ru", "sw", "zh"]


@pytest.mark.parametrize("lang, expected", [
    ("en", "Northern Ireland"), ("de", "Nordirland"), ("zh", "北爱尔兰"), ("ru", "Северная Ирландия"),
    ("sw", "Ayalandi ya Kaskazini"), ("pt_BR", "Irlanda do Norte"),
])
def test_subnational_names_are_localised(lang, expected):
    assert countries.name("GB-NIR", lang) == expected


def test_every_subnational_code_has_a_name_in_every_template_language():
    table = countries.load_name_table()
    subs = {c for c in table.loc[table["sample"] == "national", "code"] if "-" in c}
    assert subs  # GB-NIR
    english = {c: countries.name(c, "en") for c in subs}
    for code in subs:
        for lang in TEMPLATE_LANGS:
            local = countries.name(code, lang)
            assert local and (lang == "en" or local != english[code]), (code, lang)
    with pytest.raises(InputError, match="subnational_names.csv"):
        countries.name("GB-NIR", "fr")  # no row: an error, never the English name in a French prompt


# The prompt language of a country with the ten shipped templates (ar de en es hi ja pt ru sw zh): its
# most widely used main language with a template (main = official or de facto official, used by
# >= 25 % or the most used official language; CLDR shares count first- and second-language users).
@pytest.mark.parametrize("code, expected", [
    # Dutch (55 %) and French (38 %) have no template; German is official but used by 22 % (first
    # language of about 1 %), so it is not a main language; English (59 %, second language) is not
    # official. No language of Belgium has a template: left out of linguistic prompting.
    ("BE", None),
    # Hebrew has no template; Arabic is official but used by 20 % (prompting in Arabic would stand for
    # Arab citizens, not Israel); English (85 %) is not official. Left out.
    ("IL", None),
    # Ukrainian has no template; Russian is de facto official and used by 46 %.
    ("UA", "ru"),
    # Urdu (95 %) has no template; English is official and used by 50 %; Punjabi (70 %) is not
    # official and has no template.
    ("PK", "en"),
    # Hindi is official and the most used (41 %); English (official, 19 %) is not a main language.
    ("IN", "hi"),
    # German (76 %) before French (39 %); Italian (15 %) below the threshold anyway.
    ("CH", "de"),
    # English (87 %) before French (29 %).
    ("CA", "en"),
    # English is official and used by 53 %; Hausa, Igbo, Yoruba (13 % each) have no template.
    ("NG", "en"),
    # Swahili is official and used by 66 %; English (official, 19 %) is not a main language.
    ("KE", "sw"),
    # Mandarin (90 %); the template is Simplified Chinese, as used in China.
    ("CN", "zh"),
    ("JP", "ja"),
    # German (91 %); English (64 %, second language, not official) is not a main language.
    ("DE", "de"),
    # Northern Ireland uses the United Kingdom's languages.
    ("GB-NIR", "en"),
])
def test_prompt_language_of_a_country(code, expected):
    assert countries.native_language(code, TEMPLATE_LANGS) == expected


def test_main_languages():
    assert countries.main_languages("IN") == ["hi"]
    assert countries.main_languages("BE") == ["nl", "fr"]
    assert countries.main_languages("IL") == ["he"]
    assert countries.main_languages("UA") == ["uk", "ru"]
    assert countries.main_languages("GB-NIR") == countries.main_languages("GB") == ["en"]
    assert countries.main_languages("TW") == ["zh"]  # zh_Hant merged, nan/hak have no ISO 639-1
    assert countries.main_languages("CH") == ["de", "fr"]
    # the most widely used official language counts whatever its share (Ghana: English, 21 %)
    assert countries.main_languages("GH") == ["en"]
    assert countries.native_language("IN", ["en"]) is None
    assert countries.native_language("JP", ["en", "de"]) is None
    with pytest.raises(InputError):
        countries.main_languages("ZZZ")


def test_language_info_row():
    row = countries.language_info("UA", TEMPLATE_LANGS)
    assert (row["language"], row["population_share"], row["official"]) == ("ru", 46.0, True)
    assert row["main_languages"] == "uk;ru" and row["most_spoken"] == "uk" and row["reason"] == ""
    row = countries.language_info("BE", TEMPLATE_LANGS)
    assert row["language"] == "" and "nl 55 %" in row["reason"] and row["name"] == "Belgium"
    assert countries.language_info("TW", TEMPLATE_LANGS)["cldr_language"] == "zh_Hant"


def test_every_national_code_has_a_name_and_languages():
    table = countries.load_name_table()
    for code in set(table.loc[table["sample"] == "national", "code"]):
        assert countries.name(code, "en")
        assert countries.main_languages(code), code


def test_pew_sample_suffix_for_names_not_in_table():
    assert countries.to_code("Colombia  (Non-national sample)") == ("CO", "non-national")
    assert countries.to_code("Kuwait (Current national sample)") == ("KW", "national")
    with pytest.raises(InputError):
        countries.to_code("Atlantis (Non-national sample)")
