"""Bad input, table-driven (issue 9): every case is refused before any model call, with exit code
non-zero, one message naming the file (the config file that set the key, a --configfile, --config,
a template or a survey file), the key or row and what was expected; no Python traceback reaches
the console, and nothing partial is left under results/.

Each case runs the real workflow: configuration mistakes fail while Snakemake parses (`-n`), survey
file mistakes in the import job (`--cores 1`, one study, one reference model)."""

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from workspace import copy_workflow

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
ITEMS = "item_id,question,options,scale,source,topic\n"
TARGETS = "item_id,country,option,share,n\n"
OPTS = json.dumps(["Yes", "No"]).replace('"', '""')
GOOD_ITEMS = ITEMS + f'q1,Do you agree?,"{OPTS}",nominal,test,t\nq2,Is it good?,"{OPTS}",nominal,test,t\n'
GOOD_TARGETS = TARGETS + "q1,DE,Yes,0.6,100\nq1,DE,No,0.4,100\nq2,DE,Yes,0.3,100\nq2,DE,No,0.7,100\n"

pytestmark = pytest.mark.e2e


def model(**extra):
    return {"catalog": {"models": {"m": {"provider": "litellm", "model": "openai/x", "api_base": "http://127.0.0.1:9/v1",
                                         "elicitation": {"method": "logprobs"}, **extra}}}, "models": ["m"]}


def survey(items=GOOD_ITEMS, targets=GOOD_TARGETS, fmt="generic"):
    """A --configfile with a study `bad` made of these two files."""
    return {"files": {"bad/items.csv": items, "bad/targets.csv": targets},
            "configfile": {"studies": ["bad"], "models": ["uniform"], "catalog": {"studies": {"bad": {
                "format": fmt, "paths": {"items": "bad/items.csv", "targets": "bad/targets.csv"}}}}}}


def template_edit(edit):
    """A templates directory `tpl/` whose en.yaml is edited by `edit(dict)`."""
    return {"template": edit, "config": ["templates=tpl", "conditions=[default]"]}


def _set(path, value):
    def edit(data):
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return edit


# (id, how: config overrides / configfile / files / template edit, must appear in the message)
CASES = [
    ("country XX", {"config": ["countries=[XX]"]}, ["--config", "countries[0]", "ISO 3166", "'XX'"]),
    ("country US,XX", {"config": ["countries=[US,XX]"]}, ["countries[1]", "'XX'"]),
    ("country lowercase", {"config": ["countries=[us]"]}, ["countries[0]", "'us'"]),
    ("country in a configfile", {"configfile": {"countries": ["QQ"]}}, ["extra.yaml", "countries[0]", "'QQ'"]),
    ("paraphrases above templates", {"config": ["paraphrases=9"]}, ["paraphrases", "at most 3", ".yaml"]),
    ("paraphrases 0", {"config": ["paraphrases=0"]}, ["paraphrases", ">= 1"]),
    ("model ..", {"config": ["models=[..]"]}, ["models[0]", "'..'", "no '/'"]),
    ("model with slash", {"config": ["models=[a/b]"]}, ["models[0]", "'a/b'"]),
    ("model with shell chars", {"config": ["models=[x;rm]"]}, ["models[0]"]),
    ("catalog model name with space", {"configfile": {"catalog": {"models": {"my model": {
        "provider": "reference", "respondent": "uniform", "elicitation": {"method": "logprobs"}}}}}},
     ["extra.yaml", "catalog.models", "name of letters", "'my model'"]),
    ("no models", {"config": ["models=[]"]}, ["models", "at least 1"]),
    ("unknown model", {"config": ["models=[nope]"]}, ["models[0]", "one of catalog.models", "'nope'"]),
    ("repeated model", {"config": ["models=[uniform,uniform]"]}, ["models", "each name once"]),
    ("no studies", {"config": ["studies=[]"]}, ["studies", "at least 1"]),
    ("unknown study", {"config": ["studies=[nope]"]}, ["studies[0]", "one of catalog.studies"]),
    ("no conditions", {"config": ["conditions=[]"]}, ["conditions", "at least 1"]),
    ("unknown condition", {"config": ["conditions=[nope]"]}, ["conditions[0]", "one of catalog.conditions"]),
    ("unknown option order", {"config": ["option_orders=[sideways]"]}, ["option_orders[0]", "listed, reversed"]),
    ("no option orders", {"config": ["option_orders=[]"]}, ["option_orders", "at least 1"]),
    ("templates dir missing", {"config": ["templates=nowhere"]}, ["templates", "directory", "'nowhere'"]),
    ("templates dir empty", {"files": {"empty/README": "x"}, "config": ["templates=empty"]}, ["templates", "'empty'"]),
    ("unknown top-level key", {"configfile": {"colour": "blue"}}, ["extra.yaml", "colour"]),
    ("model entry typo", {"configfile": model(tmperature=1)}, ["extra.yaml", "catalog.models.m", "tmperature"]),
    ("model entry without provider", {"configfile": {"catalog": {"models": {"m": {"model": "x", "elicitation": {
        "method": "logprobs"}}}}, "models": ["m"]}}, ["extra.yaml", "catalog.models.m", "provider"]),
    ("unknown provider", {"configfile": {"catalog": {"models": {"m": {"provider": "acme", "model": "x",
        "elicitation": {"method": "logprobs"}}}}, "models": ["m"]}}, ["extra.yaml", "provider"]),
    ("unknown elicitation method", {"configfile": model(elicitation={"method": "telepathy"})},
     ["extra.yaml", "elicitation.method", "logprobs"]),
    ("top_logprobs above 20", {"configfile": model(elicitation={"method": "logprobs", "top_logprobs": 50})},
     ["extra.yaml", "top_logprobs", "<= 20"]),
    ("api_key_env unset", {"configfile": {**model(), "catalog": {"models": {"m": {
        "provider": "litellm", "model": "openai/x", "api_key_env": "CULTURELENS_TEST_UNSET_KEY",
        "elicitation": {"method": "logprobs"}}}}}}, ["api_key_env", "CULTURELENS_TEST_UNSET_KEY"]),
    ("condition language without template", {"configfile": {"catalog": {"conditions": {"default": {
        "persona": False, "languages": ["xx"]}}}}}, ["extra.yaml", "languages", "'xx'"]),
    ("unknown study format", {"configfile": {"catalog": {"studies": {"goqa": {"format": "spss", "paths": {}}}}}},
     ["extra.yaml", "catalog.studies.goqa.format", "goqa, vsm2013"]),
    ("formula without ~", {"configfile": {"catalog": {"analyses": {"distributions": {"a": {"formula": "js_sim"}}}}}},
     ["extra.yaml", "formula"]),
    ("reserved study name", {"configfile": {"catalog": {"studies": {"answers": {"format": "goqa", "paths": {
        "csv": "x.csv"}}}}}}, ["catalog.studies", "answers"]),
    ("template placeholder typo", template_edit(lambda d: d["paraphrases"][0].update(
        persona="How would someone from {contry} answer?")), ["tpl/en.yaml", "paraphrases[0].persona", "{contry}"]),
    ("template unknown placeholder in user", template_edit(lambda d: d["paraphrases"][0].update(
        user=d["paraphrases"][0]["user"] + " {name}")), ["tpl/en.yaml", "paraphrases[0].user", "{name}"]),
    ("template stray brace", template_edit(lambda d: d["paraphrases"][0].update(
        instruction="Answer {with a letter")), ["tpl/en.yaml", "paraphrases[0].instruction", "brace"]),
    ("template field missing", template_edit(lambda d: d["paraphrases"][0].pop("option_line")),
     ["tpl/en.yaml", "paraphrases[0].option_line", "missing"]),
    ("template language mismatch", template_edit(_set(["language"], "fr")), ["tpl/en.yaml", "language", "'fr'"]),
    ("template not YAML", {"template": "not: [yaml", "config": ["templates=tpl", "conditions=[default]"]},
     ["tpl/en.yaml", "YAML"]),
    # survey files: refused by the import job
    ("items header only", survey(items=ITEMS), ["bad/items.csv", "rows", "at least one item"]),
    ("items empty file", survey(items=""), ["bad/items.csv"]),
    ("items missing column", survey(items="item_id,question\nq1,Why?\n"), ["bad/items.csv", "columns"]),
    ("items options not JSON", survey(items=ITEMS + "q1,Q?,Yes or No,nominal,t,t\n"), ["bad/items.csv", "options"]),
    ("items one option", survey(items=ITEMS + 'q1,Q?,"[""Yes""]",nominal,t,t\n'), ["bad/items.csv", "options",
                                                                                    "at least 2"]),
    ("items unknown scale", survey(items=ITEMS + f'q1,Q?,"{OPTS}",likert,t,t\n'), ["bad/items.csv", "scale"]),
    ("targets header only", survey(targets=TARGETS), ["bad/targets.csv", "rows", "at least one"]),
    ("targets NaN share", survey(targets=TARGETS + "q1,DE,Yes,,100\nq1,DE,No,0.4,100\n"), ["bad/targets.csv", "share"]),
    ("targets negative share", survey(targets=TARGETS + "q1,DE,Yes,-0.1,100\n"), ["bad/targets.csv", "share", ">= 0"]),
    ("targets unknown option", survey(targets=TARGETS + "q1,DE,Maybe,0.5,100\n"), ["bad/targets.csv", "option",
                                                                                   "'Maybe'"]),
    ("targets unknown item", survey(targets=TARGETS + "q9,DE,Yes,0.5,100\n"), ["bad/targets.csv", "item_id", "'q9'"]),
    ("targets of unknown countries only", survey(targets=TARGETS + "q1,Atlantis,Yes,0.5,100\n"),
     ["bad/targets.csv", "rows", "known country", "Atlantis"]),
    ("survey file missing", {"configfile": {"studies": ["bad"], "models": ["uniform"], "catalog": {"studies": {
        "bad": {"format": "generic", "paths": {"items": "bad/none.csv", "targets": "bad/none2.csv"}}}}}},
     ["bad/none.csv"]),
    ("goqa header only", survey(fmt="goqa") | {"files": {"bad/goqa.csv": "question,selections,options,source\n"},
                                               "configfile": {"studies": ["bad"], "models": ["uniform"], "catalog": {
                                                   "studies": {"bad": {"format": "goqa",
                                                                       "paths": {"csv": "bad/goqa.csv"}}}}}},
     ["bad/goqa.csv", "rows", "at least one"]),
]


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory):
    # four at a time: each case is a Snakemake start, mostly waiting on imports read from disk
    return [copy_workflow(tmp_path_factory.mktemp(f"bad{i}")) for i in range(4)]


def run_case(work: Path, case) -> tuple[int, str, list[str]]:
    name, how, _ = case
    for d in ("results", "bad", "tpl", "empty", ".snakemake"):
        shutil.rmtree(work / d, ignore_errors=True)
    (work / "extra.yaml").unlink(missing_ok=True)
    for rel, text in how.get("files", {}).items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text, encoding="utf-8")
    if "template" in how:
        shutil.copytree(work / "resources/templates", work / "tpl")
        en = work / "tpl/en.yaml"
        if callable(how["template"]):
            data = yaml.safe_load(en.read_text(encoding="utf-8"))
            how["template"](data)
            en.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        else:
            en.write_text(how["template"], encoding="utf-8")
    args = ["--cores", "1"]
    if "configfile" in how:
        (work / "extra.yaml").write_text(yaml.safe_dump(how["configfile"]), encoding="utf-8")
        args += ["--configfile", "config/config.yaml", "extra.yaml"]
    if how.get("config"):
        args += ["--config", *how["config"]]
    if "files" in how and any(k.startswith("bad/") for k in how["files"]) or "survey file missing" == name:
        args += ["--until", "import_survey"]
    else:
        args.insert(0, "-n")
    proc = subprocess.run([SNAKEMAKE, *args], cwd=work, capture_output=True, text=True, timeout=600,
                          env={**__import__("os").environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    left = sorted(str(p.relative_to(work)) for p in (work / "results").rglob("*") if p.is_file()) \
        if (work / "results").exists() else []
    return proc.returncode, proc.stdout + proc.stderr, left


def test_at_least_forty_cases():
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) == len(CASES)


def test_every_bad_input_is_refused_with_one_clear_message(workspaces):
    with ThreadPoolExecutor(len(workspaces)) as pool:
        chunks = [CASES[i::len(workspaces)] for i in range(len(workspaces))]
        outcomes = pool.map(lambda wc: [(c, run_case(wc[0], c)) for c in wc[1]], zip(workspaces, chunks))
        results = [r for chunk in outcomes for r in chunk]
    problems = []
    for (name, _, must), (code, out, left) in results:
        missing = [m for m in must if m not in out]
        bad = []
        if code == 0:
            bad.append("exit code 0")
        if "Traceback" in out:
            bad.append("a traceback")
        if missing:
            bad.append(f"message lacks {missing}")
        if left:
            bad.append(f"left under results/: {left}")
        if bad:
            lines = [ln for ln in out.splitlines() if "culturelens" in ln or "Invalid" in ln or "Error" in ln][:6]
            problems.append(f"{name}: {'; '.join(bad)}\n    " + "\n    ".join(lines or out.splitlines()[-6:]))
    assert not problems, f"{len(problems)} of {len(CASES)} cases:\n" + "\n".join(problems)
