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
    assert countries.name("GB-NIR", "de") == "Northern Ireland"
    with pytest.raises(InputError):
        countries.name("US", "not-a-language")
    with pytest.raises(InputError):
        countries.name("QQ", "en")


def test_main_and_native_languages():
    assert countries.main_languages("IN")[:2] == ["hi", "en"]
    assert countries.native_language("IN", ["en", "hi"]) == "hi"
    assert countries.native_language("IN", ["en"]) == "en"
    assert countries.native_language("JP", ["en", "de"]) is None
    assert countries.main_languages("GB-NIR") == countries.main_languages("GB") == ["en"]
    assert countries.main_languages("TW") == ["zh"]  # zh_Hant stripped, nan/hak have no ISO 639-1
    assert countries.main_languages("CH") == ["de", "fr", "it"]
    with pytest.raises(InputError):
        countries.main_languages("ZZZ")


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
