"""Write envs/<name>.yaml from what the rules that use it import, pinned to uv.lock (`make envs`).

For every rule with ``conda:`` and ``script:`` (workflow/rules/*.smk), the script's imports are
followed through ``workflow/scripts`` and ``src/culturelens`` (function-level imports included; an
import inside ``try: … except ImportError`` is optional and left out); the third-party modules found
are mapped to their distributions (the project's environment says which distribution provides a
module: ``yaml`` → PyYAML). An env file lists those distributions and everything they need, each
``==`` the version in uv.lock, for linux / CPython 3.11, under ``pip:`` (conda-forge gives python and
pip only: pip with exact pins reproduces the lock, conda-forge names and builds would not).
``EXTRA`` adds what no script imports (the vLLM server itself).

    python envs/generate.py            # rewrite the env files
    python envs/generate.py --check    # exit 1 if a file differs from what it would be
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow/scripts"
# the library, the rule scripts (some import each other) and snakemake (the running Snakemake's)
LOCAL = {"culturelens", "snakemake", *(p.stem for p in SCRIPTS.glob("*.py"))}
EXTRA = {"vllm": ["vllm  # the server the rule starts; pin it once a cluster's CUDA driver is known"]}
HEADER = {
    "core": "every culturelens rule except vLLM serving",
    "vllm": "rules that serve a model with vLLM on a GPU machine (`vllm serve` plus the code of the rule)",
}
ENVIRONMENT = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix", "platform_machine": "x86_64",
               "python_version": "3.11", "python_full_version": "3.11.7", "implementation_name": "cpython",
               "platform_python_implementation": "CPython", "extra": ""}


def rules() -> list[tuple[str, str, str]]:
    """(rule, env name, script path) of every rule with both a conda env and a script."""
    out = []
    for smk in sorted((ROOT / "workflow/rules").glob("*.smk")):
        for block in re.split(r"^(?=rule |checkpoint )", smk.read_text(), flags=re.M)[1:]:
            name = block.split()[1].rstrip(":")
            conda = re.search(r"^\s+conda:\s*\n\s+\"([^\"]+)\"", block, re.M)
            script = re.search(r"^\s+script:\s*\n\s+\"([^\"]+)\"", block, re.M)
            if conda and script:
                env = Path(conda.group(1)).stem
                out.append((name, env, str((smk.parent / script.group(1)).resolve().relative_to(ROOT))))
    return out


def _optional(tree: ast.AST) -> set[int]:
    """ids of Import nodes inside `try` blocks whose handlers catch ImportError."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError") or
                isinstance(h.type, ast.Tuple) and any(getattr(e, "id", "") in ("ImportError", "ModuleNotFoundError")
                                                      for e in h.type.elts) for h in node.handlers):
            ids.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return ids


def _module_file(name: str) -> Path | None:
    if (SCRIPTS / f"{name}.py").exists():
        return SCRIPTS / f"{name}.py"
    if name.split(".")[0] != "culturelens":
        return None
    base = ROOT / "src" / Path(*name.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py") if base.with_suffix(".py").exists() else None


def imports(script: str) -> tuple[set[str], set[str]]:
    """(the culturelens modules, the third-party top-level modules) ``script`` can import."""
    todo, seen, third = [("__script__", ROOT / script)], set(), set()
    while todo:
        name, path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        optional = _optional(tree)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if id(node) in optional or not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                targets = [module] + [f"{module}.{a.name}" for a in node.names]
            else:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for target in targets:
                top = target.split(".")[0]
                if top in LOCAL:
                    file = _module_file(target)
                    if file is not None:
                        todo.append((target, file))
                elif top not in sys.stdlib_module_names and top != "__future__":
                    third.add(top)
    local = {str(p.relative_to(ROOT)) for p in seen}
    return local, third


def distributions(modules: set[str]) -> set[str]:
    """The distributions (names as uv.lock spells them, normalised) that provide ``modules``."""
    provided = importlib.metadata.packages_distributions()
    out = set()
    for module in modules:
        if module not in provided:
            raise SystemExit(f"envs/generate.py: no installed distribution provides module {module!r}")
        out.update(_norm(d) for d in provided[module])
    return out


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(direct: set[str]) -> list[str]:
    """``name==version`` of ``direct`` and everything they need on linux / CPython 3.11, from uv.lock."""
    from packaging.markers import Marker

    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages: dict[str, list[dict]] = {}
    for p in lock["package"]:
        packages.setdefault(_norm(p["name"]), []).append(p)

    def here(package: dict) -> bool:   # a version the lock resolved for linux / CPython 3.11
        markers = package.get("resolution-markers")
        return not markers or any(Marker(m).evaluate(ENVIRONMENT) for m in markers)

    todo, out = sorted(direct), {}
    while todo:
        name = todo.pop()
        if name in out:
            continue
        candidates = [p for p in packages.get(name, []) if here(p)]
        if len(candidates) != 1:
            raise SystemExit(f"envs/generate.py: {name}: {len(candidates)} versions in uv.lock for linux / CPython 3.11 "
                             "(add it to pyproject.toml, then `make lock`)")
        package = candidates[0]
        out[name] = package["version"]
        for dep in package.get("dependencies", []):
            marker = dep.get("marker")
            if marker is None or Marker(marker).evaluate(ENVIRONMENT):
                todo.append(_norm(dep["name"]))
    return [f"{n}=={v}" for n, v in sorted(out.items())]


def render(env: str, users: list[tuple[str, str]], pins: list[str]) -> str:
    lines = [f"# Environment for {HEADER.get(env, env)} (`snakemake --use-conda`).",
             "# GENERATED by `make envs` (envs/generate.py) from what these rules import, pinned to uv.lock:",
             "# do not edit; change pyproject.toml, run `make lock`, then `make envs`.",
             "# Rules: " + ", ".join(sorted({r for r, _ in users})),
             "channels:", "  - conda-forge", "  - nodefaults", "dependencies:", "  - python=3.11", "  - pip", "  - pip:"]
    lines += [f"      - {p}" for p in pins + EXTRA.get(env, [])]
    return "\n".join(lines) + "\n"


def env_files() -> dict[str, str]:
    """env name → the text its file should have."""
    by_env: dict[str, list[tuple[str, str]]] = {}
    for rule, env, script in rules():
        by_env.setdefault(env, []).append((rule, script))
    out = {}
    for env, users in sorted(by_env.items()):
        modules = set().union(*(imports(script)[1] for _, script in users))
        out[env] = render(env, users, pinned(distributions(modules)))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if an env file is not what it would be")
    args = parser.parse_args(argv)
    stale = []
    for env, text in env_files().items():
        path = ROOT / "envs" / f"{env}.yaml"
        if path.exists() and path.read_text() == text:
            continue
        if args.check:
            stale.append(str(path.relative_to(ROOT)))
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print("out of date (run `make envs`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
