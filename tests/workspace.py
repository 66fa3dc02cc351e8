"""A copy of the workflow in a temporary directory, for tests that run Snakemake for real."""

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: What a run needs: the workflow, its config and library, the shipped data and the lock.
WORKFLOW = ("Snakefile", "workflow", "profiles", "config", "envs", "resources", "src", "uv.lock")


def copy_workflow(dest: Path, names=WORKFLOW) -> Path:
    """Copy ``names`` (files or directories at the repository root) into ``dest``; returns ``dest``."""
    for name in names:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, Path(dest) / name)
    return Path(dest)
