import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from culturelens.config import check, check_models, digest, study_kind  # noqa: E402
from culturelens.errors import InputError  # noqa: E402

validate(config, "../schemas/config.schema.yaml")
try:
    check(config)
    check_models(config)  # API keys present, methods supported: before any request is sent
except InputError as err:
    raise WorkflowError(f"Invalid configuration: {err}") from None

STUDIES = list(config["studies"])
MODELS = list(config["models"])
BASELINES = [m for m in MODELS if config["catalog"]["models"][m]["provider"] == "reference"]
VLLM_MODELS = [m for m in MODELS if config["catalog"]["models"][m]["provider"] == "vllm"]
# regexes for the two inference rules ("(?!)" matches nothing when a list is empty)
VLLM_PATTERN = "|".join(VLLM_MODELS) or "(?!)"
API_OR_REFERENCE_PATTERN = "|".join(m for m in MODELS if m not in VLLM_MODELS) or "(?!)"
DIST_STUDIES = [s for s in STUDIES if study_kind(config, s) == "distributions"]
SCORE_STUDIES = [s for s in STUDIES if study_kind(config, s) == "scores"]


wildcard_constraints:
    study="|".join(STUDIES),
    model="|".join(MODELS),


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


def template_files(wildcards):
    return sorted(str(p) for p in Path(config["templates"]).glob("*.yaml"))


def selected_conditions():
    return {name: config["catalog"]["conditions"][name] for name in config["conditions"]}


def final_outputs():
    out = ["results/summary.md", "results/manifest.json"]
    for study in STUDIES:
        out += [f"results/{study}/stats/{a}.csv" for a in analyses(study)]
        out += [f"results/{study}/figures/forest_{a}.png" for a in analyses(study)]
        if study in DIST_STUDIES:
            out.append(f"results/{study}/figures/models_vs_baselines.png")
            out += [f"results/{study}/figures/{f}.png" for f in ("steerability", "stability", "position_bias")]
            out += [f"results/{study}/figures/heatmap_{m}.png" for m in MODELS]
        else:
            out.append(f"results/{study}/figures/hofstede_scatter.png")
    return out


def distribution_files(wildcards):
    return expand("results/{study}/distributions/{model}.parquet", study=wildcards.study, model=MODELS)


def stats_input(wildcards):
    if study_kind(config, wildcards.study) == "scores":
        return f"results/{wildcards.study}/hofstede/errors.parquet"
    return f"results/{wildcards.study}/alignment.parquet"


def summary_inputs(wildcards):
    files = {}
    for study in STUDIES:
        files[f"{study}__notes"] = f"results/{study}/survey/notes.txt"
        files[f"{study}__prompt_notes"] = f"results/{study}/prompts_notes.txt"
        for model in MODELS:
            files[f"{study}__invalid__{model}"] = f"results/{study}/distributions/{model}.invalid.parquet"
            files[f"{study}__responses__{model}"] = f"results/{study}/responses/{model}.parquet"
        for a in analyses(study):
            files[f"{study}__stats__{a}"] = f"results/{study}/stats/{a}.csv"
        if study in DIST_STUDIES:
            files[f"{study}__alignment"] = f"results/{study}/alignment.parquet"
            for name in ("steerability", "us_centric_gap", "extrapolability", "rank_correlation"):
                files[f"{study}__robustness__{name}"] = f"results/{study}/robustness/{name}.csv"
        else:
            files[f"{study}__correlations"] = f"results/{study}/hofstede/correlations.csv"
            files[f"{study}__robustness__extrapolability"] = f"results/{study}/hofstede/extrapolability.csv"
    return files
