"""The conda environments the rules run in (`snakemake --use-conda`) hold what their code imports.

Each env file is generated from the rules' imports and uv.lock (envs/generate.py, `make envs`); here it
must be up to date, and an environment made from exactly its package list (pip names: conda itself
is not installed here) must import every module the rules using it can reach."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "envs"))
import generate  # noqa: E402

UV = ROOT / ".uv/bin/uv"


def test_env_files_are_generated_from_the_code_and_the_lock():
    proc = subprocess.run([sys.executable, str(ROOT / "envs/generate.py"), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_every_rule_with_a_script_has_an_env_that_knows_its_imports():
    rules = generate.rules()
    assert {"core", "vllm"} == {env for _, env, _ in rules}
    query_vllm = next(script for rule, _, script in rules if rule == "query_vllm")
    local, third = generate.imports(query_vllm)
    # the vLLM job reaches babel through jobs -> prompts -> countries: the env must have it
    assert "src/culturelens/countries.py" in local and "babel" in third
    env = yaml.safe_load((ROOT / "envs/vllm.yaml").read_text())
    pins = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert any(p.startswith("babel==") for p in pins)


@pytest.mark.parametrize("env", ["core", "vllm"])
def test_an_environment_made_from_the_env_file_imports_what_its_rules_import(env, tmp_path):
    if not UV.exists():
        pytest.skip("uv is not installed in .uv/ (make setup installs it)")
    spec = yaml.safe_load((ROOT / f"envs/{env}.yaml").read_text())
    pins = [p.split("#")[0].strip() for p in next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))]
    pins = [p for p in pins if p != "vllm"]       # the GPU server itself: gigabytes, not importable here
    venv = tmp_path / "venv"
    environ = {**os.environ, "VIRTUAL_ENV": str(venv)}
    environ.pop("UV_PROJECT_ENVIRONMENT", None)
    subprocess.run([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, env=environ)
    proc = subprocess.run([str(UV), "pip", "install", "--quiet", "--python", str(venv / "bin/python"), *pins],
                          capture_output=True, text=True, env=environ, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    local, third = set(), set()
    for _, used, script in generate.rules():
        if used == env:
            mods, tops = generate.imports(script)
            local |= mods
            third |= tops
    modules = sorted(third - generate.LOCAL) + sorted(
        ".".join(Path(m).with_suffix("").parts[1:]).removesuffix(".__init__") for m in local if m.startswith("src/"))
    code = ("import importlib, sys\n"
            f"sys.path[:0] = [{str(ROOT / 'src')!r}, {str(ROOT / 'workflow/scripts')!r}]\n"
            f"failed = []\n"
            f"for name in {modules!r}:\n"
            "    try:\n        importlib.import_module(name)\n"
            "    except Exception as err:\n        failed.append(f'{name}: {type(err).__name__}: {err}')\n"
            "print('\\n'.join(failed)); sys.exit(1 if failed else 0)\n")
    proc = subprocess.run([str(venv / "bin/python"), "-c", code], capture_output=True, text=True,
                          env={**environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONNOUSERSITE": "1"}, timeout=600)
    assert proc.returncode == 0, f"envs/{env}.yaml lacks what its rules import:\n{proc.stdout}{proc.stderr[-2000:]}"
    assert len(modules) > 10
