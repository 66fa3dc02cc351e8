import os
import re
import sys
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from culturelens import countries as country_names, jobs, shards  # noqa: E402
from culturelens.answer_files import resolve as resolve_answer_files  # noqa: E402
from culturelens.config import (  # noqa: E402
    Sources,
    check,
    check_models,
    check_schema,
    check_templates,
    digest,
    study_conditions,
    study_kind,
)
from culturelens.errors import InputError  # noqa: E402

# Every key checked before any job runs; an error names the file that set the key (config/config.yaml,
# a --configfile, or --config), the key, the value and what was expected, in one line.
_cli_files = [os.path.abspath(f) for f in workflow.config_settings.configfiles]
SOURCES = Sources([os.path.relpath(f) for f in workflow.configfiles if os.path.abspath(f) not in _cli_files]
                  + [os.path.relpath(f) for f in _cli_files], dict(workflow.config_settings.config))
try:
    check_schema(config, yaml.safe_load(Path(workflow.basedir, "workflow/schemas/config.schema.yaml").read_text()),
                 SOURCES)
    validate(config, "../schemas/config.schema.yaml")  # the same schema again: fills in its defaults
    check(config, SOURCES)
    check_templates(config, SOURCES)
    # API keys present, methods supported: before any request is sent (passes cached, see check_models)
    check_models(config, SOURCES("catalog.models"), cache=".snakemake/culturelens-checks.json")
except InputError as err:
    raise WorkflowError(f"Invalid configuration: {err}") from None

STUDIES = list(config["studies"])
MODELS = list(config["models"])
BASELINES = [m for m in MODELS if config["catalog"]["models"][m]["provider"] == "reference"]
# answers collected elsewhere, read from a file (culturelens.imported): answered in-process like the
# reference respondents, but a model, not a baseline
IMPORTED = [m for m in MODELS if config["catalog"]["models"][m]["provider"] == "imported"]
IN_PROCESS = BASELINES + IMPORTED
VLLM_MODELS = [m for m in MODELS if config["catalog"]["models"][m]["provider"] == "vllm"]
# regexes for the three inference rules ("(?!)" matches nothing when a list is empty)
VLLM_PATTERN = "|".join(map(re.escape, VLLM_MODELS)) or "(?!)"
REFERENCE_PATTERN = "|".join(map(re.escape, IN_PROCESS)) or "(?!)"
IMPORTED_PATTERN = "|".join(map(re.escape, IMPORTED)) or "(?!)"
API_PATTERN = "|".join(re.escape(m) for m in MODELS if m not in VLLM_MODELS and m not in IN_PROCESS) or "(?!)"
# models with answer files per shard (API and vLLM; reference respondents answer inside their
# study's `reference_distributions` job)
ANSWERED = [m for m in MODELS if m not in IN_PROCESS]
ANSWERED_PATTERN = "|".join(map(re.escape, ANSWERED)) or "(?!)"
DIST_STUDIES = [s for s in STUDIES if study_kind(config, s) == "distributions"]
SCORE_STUDIES = [s for s in STUDIES if study_kind(config, s) == "scores"]
LABEL_STUDIES = [s for s in STUDIES if study_kind(config, s) == "labels"]


wildcard_constraints:
    study="|".join(map(re.escape, STUDIES)),
    model="|".join(map(re.escape, MODELS)),
    shard=r"none|[A-Z][A-Z0-9]+(-[A-Z0-9]+)?",
    country=r"[A-Z][A-Z0-9]+(-[A-Z0-9]+)?",
    lang=r"[a-z]{2,3}(_[A-Za-z]+)?",


def study_spec(wildcards):
    return config["catalog"]["studies"][wildcards.study]


def model_spec(wildcards):
    return config["catalog"]["models"][wildcards.model]


def survey_files(wildcards):
    """Every file a study is imported from (a directory stands for the YAML files in it)."""
    files = []
    for path in study_spec(wildcards)["paths"].values():
        p = Path(path)
        files += sorted(str(f) for f in p.glob("*.yaml")) if p.is_dir() else [path]
    return files


def analyses(study):
    return config["catalog"]["analyses"][study_kind(config, study)]


def prompt_items(wildcards):
    """The items prompts are rendered from: with machine translations where the study asks for them."""
    if study_spec(wildcards).get("translate"):
        return f"results/{wildcards.study}/survey/translated_items.parquet"
    return f"results/{wildcards.study}/survey/items.parquet"


def imported_answers(wildcards):
    """An imported model's answers to the study (rule import_answers); nothing for other models."""
    if wildcards.model in IMPORTED:
        return [f"results/{wildcards.study}/imported/{wildcards.model}.parquet"]
    return []


def imported_files(wildcards):
    """Every file an imported model's entry names (culturelens.answer_files)."""
    spec = model_spec(wildcards)
    return [f for f, _ in resolve_answer_files(spec, f"catalog.models.{wildcards.model}.path", SOURCES("catalog.models"))]


def elicitation_method(wildcards):
    """How a model's answers are parsed: imported answers are stated probabilities."""
    spec = model_spec(wildcards)
    return "verbalized" if spec["provider"] == "imported" else spec["elicitation"]["method"]


def template_files(wildcards):
    return sorted(str(p) for p in Path(config["templates"]).glob("*.yaml"))


def selected_conditions(study):
    """The study's conditions (its own `conditions` key, else the top-level selection)."""
    return {name: config["catalog"]["conditions"][name] for name in study_conditions(config, study)}


def study_conditions_of(wildcards):
    return selected_conditions(wildcards.study)


def in_process(job, input, output, params, log):
    """Run a culturelens.jobs function inside Snakemake with the rule's named inputs, params and
    outputs as keyword arguments (an unnamed single output is `output`); bad input is one line
    naming file and field, not a traceback."""
    outputs = dict(output.items()) or {"output": output[0]}
    try:
        job(**dict(input.items()), **dict(params.items()), **outputs, log=log[0])
    except InputError as err:
        raise WorkflowError(f"culturelens: bad input: {err}") from None


# --- Country shards (culturelens.shards): known once a study's survey is imported -----------------


def study_countries(study):
    """Countries of the study with survey data, within the configured selection."""
    out = checkpoints.import_survey.get(study=study).output
    found = shards.survey_countries(jobs.read_table(out.targets), jobs.read_table(out.scores))
    selected = config["countries"]
    return [c for c in found if not selected or c in selected]


def study_shards(study):
    return shards.shards(study_countries(study), selected_conditions(study))


def prompts_of_shard(shard):
    """The prompt files of one shard, by study (studies without the country have none)."""
    return {s: f"results/{s}/prompts/{shard}.parquet" for s in STUDIES if shard in study_shards(s)}


def shard_prompts(wildcards):
    return prompts_of_shard(wildcards.shard)


def shard_targets(wildcards):
    return {s: f"results/{s}/survey/targets.parquet" for s in shard_prompts(wildcards)}


def answer_files(study, model):
    return [f"results/answers/{model}/{shard}.parquet" for shard in study_shards(study)]


def slice_answers(shards_of, models):
    """The answer files of a slice and, per file, (model, shard, study): a model's answer file per
    shard, or for a reference respondent (no answer files) its responses in every study with the
    shard (study None: the file says)."""
    files, labels = [], []
    for m in models:
        for s in shards_of:
            if m in IN_PROCESS:
                studies = [st for st in STUDIES if s in study_shards(st)]
                files += [f"results/{st}/responses/{m}.parquet" for st in studies]
                labels += [(m, s, st) for st in studies]
            else:
                files.append(f"results/answers/{m}/{s}.parquet")
                labels.append((m, s, None))
    return files, labels


def country_shard(country):
    """A country's shard, or a clear error if no selected study has it."""
    if country in all_shards():
        return [country]
    selected = config["countries"]
    why = (f"it is not in the configured countries ({', '.join(selected)}; config key `countries`)"
           if selected and country not in selected else f"no selected study has survey data for it ({', '.join(STUDIES)})")
    raise WorkflowError(f"country slice {country}: {why}")


def all_shards():
    return sorted({s for study in STUDIES for s in study_shards(study)})


def language_shards(lang):
    """The shards whose prompts are in `lang`: the countries whose prompt language it is (CLDR), and
    `none` if a condition without a target country asks for it."""
    available = sorted(p.stem for p in Path(config["templates"]).glob("*.yaml"))
    out = [s for s in all_shards() if s != shards.NONE and country_names.native_language(s, available) == lang]
    if any(lang in c["languages"] for study in STUDIES
           for c in shards.world_conditions(selected_conditions(study)).values()):
        out.insert(0, shards.NONE)
    return out


def final_outputs():
    out = ["results/summary.md", "results/manifest.json", "results/report/headline.html"]
    for study in STUDIES:
        out += [f"results/{study}/stats/{a}.csv" for a in analyses(study)]
        out += [f"results/{study}/figures/forest_{a}.png" for a in analyses(study)]
        if study in LABEL_STUDIES:
            out += [f"results/{study}/figures/label_{f}.png" for f in ("accuracy", "difference")]
            out.append(f"results/{study}/report/label_tables.html")
        elif study in DIST_STUDIES:
            out.append(f"results/{study}/figures/models_vs_baselines.png")
            out += [f"results/{study}/figures/{f}.png" for f in ("steerability", "stability", "position_bias")]
            out += [f"results/{study}/figures/heatmap_{m}.png" for m in MODELS]
            out += [f"results/{study}/report/{page}.html" for page in ("tables", "maps")]
        else:
            out.append(f"results/{study}/figures/hofstede_scatter.png")
    return out


def distribution_files(wildcards):
    return expand("results/{study}/distributions/{model}.parquet", study=wildcards.study, model=MODELS)


def invalid_files(wildcards):
    return expand("results/{study}/distributions/{model}.invalid.parquet", study=wildcards.study, model=MODELS)


def stats_input(wildcards):
    if study_kind(config, wildcards.study) == "scores":
        return f"results/{wildcards.study}/hofstede/errors.parquet"
    if study_kind(config, wildcards.study) == "labels":
        return f"results/{wildcards.study}/labels/predictions.parquet"
    return f"results/{wildcards.study}/alignment.parquet"


_WARNED = set()


def warn_countries_without_data():
    """A configured country without survey data in any selected study is named (once), not
    silently left out. A warning, not an error: one list of countries may serve several studies."""
    missing = [c for c in config["countries"] if not any(c in study_countries(s) for s in STUDIES)]
    if missing and tuple(missing) not in _WARNED:
        _WARNED.add(tuple(missing))
        logger.warning(f"culturelens: {SOURCES('countries')}: countries {', '.join(missing)} have no survey data in "
                       f"the selected studies ({', '.join(STUDIES)}); they are left out")


def summary_inputs(wildcards):
    warn_countries_without_data()
    files = {}
    for study in STUDIES:
        files[f"{study}__notes"] = f"results/{study}/survey/notes.txt"
        files[f"{study}__ceiling"] = f"results/{study}/survey/split_half.parquet"
        files[f"{study}__prompt_notes"] = f"results/{study}/prompts_notes.txt"
        if config["catalog"]["studies"][study].get("translate"):
            files[f"{study}__translations"] = f"results/{study}/survey/translations.csv"
        for model in IMPORTED:
            files[f"{study}__imported__{model}"] = f"results/{study}/imported/{model}.notes.txt"
        for model in MODELS:
            files[f"{study}__invalid__{model}"] = f"results/{study}/distributions/{model}.invalid.parquet"
            files[f"{study}__coverage__{model}"] = f"results/{study}/coverage/{model}.csv"
            files[f"{study}__responses__{model}"] = f"results/{study}/responses/{model}.parquet"
        for a in analyses(study):
            files[f"{study}__stats__{a}"] = f"results/{study}/stats/{a}.csv"
        if study in LABEL_STUDIES:
            for name in ("scores", "differences"):
                files[f"{study}__labels__{name}"] = f"results/{study}/labels/{name}.csv"
        elif study in DIST_STUDIES:
            files[f"{study}__alignment"] = f"results/{study}/alignment.parquet"
            for name in ("steerability", "us_centric_gap", "extrapolability", "rank_correlation"):
                files[f"{study}__robustness__{name}"] = f"results/{study}/robustness/{name}.csv"
        else:
            files[f"{study}__correlations"] = f"results/{study}/hofstede/correlations.csv"
            files[f"{study}__robustness__extrapolability"] = f"results/{study}/hofstede/extrapolability.csv"
    return files
