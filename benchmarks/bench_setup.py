"""Set-up time from a fresh clone with empty package caches: what a new machine pays.

    python3 benchmarks/bench_setup.py          # `make setup`: uv installs uv.lock (frozen)
    python3 benchmarks/bench_setup.py --pip    # and, in the same run, the former path:
                                               # `pip install -e '.[test]'` (resolves, no lock)

Clones and caches live in a temporary directory that is removed afterwards. Downloads dominate,
so the figures depend on the network as much as on the machine; the ratio is from one run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], cwd: Path, env: dict, log: Path) -> float:
    start = time.monotonic()
    with log.open("w") as out:
        subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=True)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pip", action="store_true", help="also time pip install -e '.[test]'")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {**os.environ, "UV_CACHE_DIR": str(work / "uv-cache"), "PIP_NO_CACHE_DIR": "1"}
        subprocess.run(["git", "clone", "-q", str(ROOT), str(work / "uv")], check=True)
        uv_s = timed(["make", "setup"], work / "uv", env, work / "uv.log")
        print(f"make setup (uv sync --frozen from uv.lock, empty cache): {uv_s:.1f} s")
        if args.pip:
            subprocess.run(["git", "clone", "-q", str(ROOT), str(work / "pip")], check=True)
            subprocess.run([sys.executable, "-m", "venv", str(work / "pip/.venv")], check=True)
            pip_s = timed([str(work / "pip/.venv/bin/pip"), "install", "-q", "-e", ".[test]"],
                          work / "pip", env, work / "pip.log")
            print(f"pip install -e '.[test]' (resolving, no cache): {pip_s:.1f} s = {pip_s / uv_s:.1f}x the uv set-up")


if __name__ == "__main__":
    main()
