"""Faults and crashes as a suite (issue 9): the real workflow, one API model answered by the local
test server, under a random mix of provider faults, a SIGKILL of the whole Snakemake run half-way
through inference. Each ends with the results a
quiet run gives, nothing paid twice and nothing left behind. Helpers: tests/reliability.py."""

from __future__ import annotations

import pytest
from openai_server import FakeOpenAIServer, ServerConfig
from reliability import (
    LIMITS,
    TARGETS,
    answers,
    assert_same_tables,
    kill_when_stored,
    processes_in,
    run_until_done,
    snakemake,
    start,
    store_lines,
    unlock_if_locked,
    unreadable_parquets,
    wait_for,
    workspace,
)

pytestmark = pytest.mark.e2e

COUNTRIES = ["NL", "US"]
RETRYABLE_MIX = ("429", "500", "503", "hang", "disconnect", "malformed", "truncated")


@pytest.fixture(scope="module")
def quiet_server():
    with FakeOpenAIServer(ServerConfig()) as srv:
        yield srv


@pytest.fixture(scope="module")
def reference(tmp_path_factory, quiet_server):
    """The same study against a server without faults, run once without interruption."""
    work = workspace(tmp_path_factory.mktemp("reference"), quiet_server.url)
    snakemake(work, *TARGETS, countries=COUNTRIES)
    assert quiet_server.duplicates() == 0
    return work


def test_a_fault_mix_completes_after_plain_reruns_and_pays_nothing_twice(tmp_path, reference):
    """20 % of requests fail with every retryable kind (429 with Retry-After, 500, 503, hangs past the
    2 s timeout, dropped connections, malformed and truncated JSON): plain reruns finish the study,
    no request answered OK is asked again, every prompt has its answer, and the tables equal the
    quiet run's."""
    cfg = ServerConfig(fault_rate=0.2, fault_mix=RETRYABLE_MIX, fault_seed=9, fault_retry_after=0.1,
                       fault_hang_s=LIMITS["timeout_s"] + 3)
    with FakeOpenAIServer(cfg) as server:
        work = workspace(tmp_path, server.url)
        runs = run_until_done(work, countries=COUNTRIES, max_runs=3)
        assert runs[-1].returncode == 0, f"not done after {len(runs)} runs:\n{runs[-1].stderr[-4000:]}"
        assert set(server.faults_injected) == set(RETRYABLE_MIX), server.faults_injected
        got = answers(work)
        distinct = got.key.nunique()
        assert (got.status == "ok").all()
        assert server.duplicates() == 0, "a request answered OK was sent again"
        assert len(server.ok_answers) == distinct                   # every prompt answered, once
        assert server.count() == distinct + sum(server.faults_injected.values())
    assert_same_tables(work, reference)


def test_sigkill_half_way_then_a_plain_rerun(tmp_path, reference):
    """SIGKILL of the whole Snakemake process group during inference, the lock removed as README says,
    then the same command: results equal an uninterrupted run's, at most the requests in flight at the
    kill are sent twice, no process is left in the workspace, every result parquet reads back."""
    with FakeOpenAIServer(ServerConfig(latency_s=0.25)) as server:
        work = workspace(tmp_path, server.url)
        proc = start(work, *TARGETS, countries=COUNTRIES)
        kill_when_stored(proc, work, records=40)
        wait_for(lambda: not processes_in(work), 30, what="the killed run's processes to go")
        stored_at_kill = store_lines(work)
        sent_at_kill = server.count()
        assert stored_at_kill < 150, "inference had finished before the kill: the test proves nothing"
        unlock_if_locked(work)
        server.config.latency_s = 0.0
        snakemake(work, *TARGETS, countries=COUNTRIES)
        distinct = answers(work).key.nunique()
        assert sent_at_kill - stored_at_kill <= LIMITS["max_concurrency"]
        assert server.count() <= distinct + LIMITS["max_concurrency"]
        assert server.duplicates() <= LIMITS["max_concurrency"]
    assert not processes_in(work)
    assert not unreadable_parquets(work)
    assert_same_tables(work, reference)


# Two runs over one store at once (sharing requests): tests/test_slices.py::test_two_slices_at_once_never_pay_twice
