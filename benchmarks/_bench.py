"""Shared helpers of the benchmarks: prompt tables, the local OpenAI-compatible server in its own
process, CPU accounting, table printing. Not a benchmark itself."""

from __future__ import annotations

import gc
import json
import os
import platform
import sys
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before anything imports litellm

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT / "src", ROOT / "tests"):  # culturelens (if not installed) and tests/openai_server.py
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import pandas as pd  # noqa: E402

from openai_server import start_server_process, stop_server_process  # noqa: E402

SYSTEM = "You are taking part in a survey. There are no right or wrong answers."
OPTIONS = ["Strongly agree", "Agree", "Neither agree nor disagree", "Disagree", "Strongly disagree"]
SHORT_SYSTEM = "Answer the survey question."
SHORT_OPTIONS = ["Agree", "Neither", "Disagree"]
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def messages(tag: str, i: int, short: bool = False) -> list[dict]:
    """A survey prompt of realistic size (~400 characters, like results/*/prompts.parquet), distinct per (tag, i).

    short: ~200 characters (~100 tokens of the tiny test model's tokenizer), for the real vLLM server
    of `bench_clients.py --vllm`, whose tiny model has a 512-token context."""
    if short:
        user = (f"Question {tag}-{i}: do you agree that family is very important?\n"
                + "\n".join(f"{chr(65 + k)}. {o}" for k, o in enumerate(SHORT_OPTIONS))
                + "\nAnswer with one letter.\nAnswer:")
        return [{"role": "system", "content": SHORT_SYSTEM}, {"role": "user", "content": user}]
    user = (f"Question {tag}-{i}: How much do you agree or disagree with the following statement? "
            f"\u201cOne of my main goals in life has been to make my parents proud ({tag}/{i}).\u201d\n\n"
            + "\n".join(f"{chr(65 + k)}. {o}" for k, o in enumerate(OPTIONS))
            + "\n\nAnswer with the letter of exactly one option and nothing else.\nAnswer:")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def prompt_table(n: int, tag: str, short: bool = False) -> pd.DataFrame:
    """A prompt table in the shape culturelens.prompts builds (the columns the engine reads)."""
    rows = []
    k = len(SHORT_OPTIONS) if short else len(OPTIONS)
    for i in range(n):
        msgs = json.dumps(messages(tag, i, short), ensure_ascii=False)
        rows.append({"prompt_id": f"{tag}{i}", "condition": "default", "country": "none",
                     "labels": [chr(65 + j) for j in range(k)], "shown_options": list(range(k)), "messages": msgs,
                     "messages_verbalized": msgs})
    return pd.DataFrame(rows)


def engine_spec(url: str, client: str, concurrency: int, model: str = "openai/fake-model") -> dict:
    """A model entry as in config/config.yaml (limits included: the fast path sizes its pool from them)."""
    return {"provider": "litellm", "model": model, "api_base": url, "client": client,
            "elicitation": {"method": "logprobs", "top_logprobs": 5},
            "limits": {"max_concurrency": concurrency}}


class Server:
    """tests/openai_server.py in a separate process (its CPU is not this process's)."""

    model = "fake-model"  # the model name clients send

    def __init__(self, latency_s: float):
        self.url, self.proc = start_server_process({"latency_s": latency_s, "record_requests": False})
        self.base = self.url[: -len("/v1")]

    def _call(self, path: str, method: str = "GET") -> dict:
        req = urllib.request.Request(self.base + path, method=method, data=b"{}" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - 127.0.0.1 only
            return json.loads(resp.read())

    def requests(self) -> int:
        return int(self._call("/_fake/stats")["requests"])

    def reset(self) -> None:
        self._call("/_fake/reset", "POST")

    def cpu_s(self) -> float:
        """User + system CPU seconds the server process has used so far."""
        return _proc_stat(self.proc.pid)[0]

    def close(self) -> None:
        stop_server_process(self.proc)

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _proc_stat(pid: int) -> tuple[float, int]:
    """(user + system CPU seconds of the process, all its threads; its process group id) from /proc."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK, int(fields[2])


class VLLMTarget:
    """A running culturelens.vllm_server.VLLMServer seen as a benchmark server: the model name clients
    send, its URL, the CPU of its whole process group (API server, engine core and any workers it
    forked: vLLM runs several processes) and the requests it has completed (its /metrics)."""

    def __init__(self, server):
        self.server = server
        self.url, self.model, self.pgid = server.url, server.model_name, server.pgid
        self.base = server.base_url
        self._http = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def check_alive(self) -> None:
        self.server.check_alive()

    def processes(self) -> list[int]:
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if _proc_stat(int(entry))[1] == self.pgid:
                        pids.append(int(entry))
                except (OSError, ValueError, IndexError):  # exited meanwhile
                    continue
        return pids

    def cpu_s(self) -> float:
        """User + system CPU seconds used so far by the processes now in the server's process group."""
        total = 0.0
        for pid in self.processes():
            try:
                total += _proc_stat(pid)[0]
            except (OSError, ValueError, IndexError):
                continue
        return total

    def requests(self) -> int | None:
        """Requests the server has completed so far (sum of vllm:request_success_total), None if unknown."""
        try:
            with self._http.open(self.base + "/metrics", timeout=10) as resp:
                text = resp.read().decode(errors="replace")
        except OSError:
            return None
        found = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                 if line.startswith("vllm:request_success_total")]
        return int(sum(found)) if found else None


class Meter:
    """Wall time, this process's CPU time (all threads) and the time its cyclic garbage collector
    ran (gc.callbacks) between start() and stop(); the server's CPU time if given one."""

    def __init__(self, server: Server | None = None):
        self.server = server
        self.gc_s, self._gc_t0 = 0.0, None

    def _gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_t0 = time.perf_counter()
        elif self._gc_t0 is not None:
            self.gc_s += time.perf_counter() - self._gc_t0
            self._gc_t0 = None

    def start(self) -> None:
        self.s0 = self.server.cpu_s() if self.server else 0.0
        self.gc_s = 0.0
        gc.callbacks.append(self._gc)
        self.c0, self.t0 = time.process_time(), time.perf_counter()

    def stop(self) -> None:
        self.wall = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.c0
        gc.callbacks.remove(self._gc)
        self.server_cpu = self.server.cpu_s() - self.s0 if self.server else 0.0


def machine() -> str:
    load = os.getloadavg()
    return (f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {time.strftime('%Y-%m-%d %H:%M %Z')}")


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """Plain-text table: columns are (key, header, format)."""
    cells = [[h for _, h, _ in columns]]
    for r in rows:
        cells.append([format(r[k], f) if r.get(k) is not None else "-" for k, _, f in columns])
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    lines = []
    for j, c in enumerate(cells):
        lines.append("  ".join(s.ljust(w) if i == 0 else s.rjust(w) for i, (s, w) in enumerate(zip(c, widths))))
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"
