"""A run follows the thread count a pool lends it (training/threads.py), and the pool lends a finished run's cores
to the runs still going once none is left to start (runner.execute(lend_free_cores=True))."""

import json

import pytest
import torch

from wganlab.studies.common import runner
from wganlab.studies.common.runner import Plan
from wganlab.studies.common.toys import training_runs
from wganlab.training import threads
from wganlab.training.run_folder import RunFolder
from wganlab.training.threads import ThreadShare


@pytest.fixture
def kept_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_a_share_follows_each_new_count_and_waits_out_a_bad_one(tmp_path, kept_threads):
    torch.set_num_threads(1)
    share = ThreadShare(tmp_path / "run.threads")
    share.poll()  # nothing lent yet
    assert torch.get_num_threads() == 1
    threads.lend(share.path, 2)
    share.poll()
    assert torch.get_num_threads() == 2
    share.path.write_text("2x")  # what a torn write would look like: ignored, and read again at the next poll
    share.poll()
    assert torch.get_num_threads() == 2
    threads.lend(share.path, 1)
    share.poll()
    assert torch.get_num_threads() == 1
    assert not share.path.with_suffix(".partial").exists()


def test_no_pool_no_change(monkeypatch, kept_threads):
    monkeypatch.delenv(threads.ENVIRONMENT, raising=False)
    torch.set_num_threads(1)
    share = ThreadShare.from_environment()
    share.poll()
    assert share.path is None and torch.get_num_threads() == 1


class Finished:
    """Stands for a subprocess.Popen in lend_cores, which only uses it as a key."""


def test_cores_are_shared_among_the_runs_left_earliest_first(tmp_path):
    processes = [Finished(), Finished(), Finished()]
    shares = {p: tmp_path / f"{i}.threads" for i, p in enumerate(processes)}
    lent = dict.fromkeys(processes, 1)
    runner.lend_cores(shares, lent, 2)  # three runs on two cores: each keeps its one thread, nothing written
    assert not any(path.exists() for path in shares.values())
    del lent[processes[0]]
    runner.lend_cores(shares, lent, 5)
    assert [shares[p].read_text() for p in processes[1:]] == ["3", "2"]
    assert lent == {processes[1]: 3, processes[2]: 2}
    del lent[processes[1]]
    runner.lend_cores(shares, lent, 5)
    assert shares[processes[2]].read_text() == "5"


def test_idle_cores_come_from_the_jiffies_of_the_last_second(tmp_path, monkeypatch):
    monkeypatch.setattr(runner.os, "cpu_count", lambda: 2)
    stat = tmp_path / "stat"
    meter = runner.IdleMeter(stat)
    # user nice system idle iowait irq softirq steal: 200 jiffies pass between the samples (1 s on 2 CPUs at
    # 100 Hz), 130 of them idle and 20 waiting for I/O: 1.5 cores idle.
    stat.write_text("cpu 1000 0 500 4000 100 0 0 0 0 0\ncpu0 ...\n")
    meter.update(now=10.0)
    assert meter.idle_cores() is None  # one sample is no measurement
    stat.write_text("cpu 1040 0 510 4130 120 0 0 0 0 0\ncpu0 ...\n")
    meter.update(now=10.5)
    assert meter.idle_cores() is None  # half a second is too short a window
    stat.write_text("cpu 1045 0 515 4130 120 0 0 0 0 0\n")
    meter.update(now=11.0)
    assert meter.idle_cores() == pytest.approx(150 / 210 * 2)
    assert runner.IdleMeter(tmp_path / "absent").idle_cores() is None


@pytest.mark.parametrize(
    ("threads_now", "idle", "cores", "expected"),
    [
        (1, None, 2, 1),  # no measurement, nothing lent
        (1, 0.1, 2, 1),  # the other core is busy (another user's work, or a run just ending)
        (1, 0.8, 2, 2),  # three quarters of a core idle count as one
        (1, 1.9, 2, 2),  # never beyond the cores this process may use
        (2, 1.0, 8, 3),
        (3, 0.0, 2, 3),  # more runs than cores: each keeps its one thread
    ],
)
def test_only_cores_seen_idle_are_lent(threads_now, idle, cores, expected):
    assert runner.cores_to_share(threads_now, idle, cores) == expected


@pytest.mark.slow  # 20-25 s: two training processes, one lent a second thread (the lending rules above are unit-tested)
def test_the_run_still_going_gets_the_core_a_finished_run_left(tmp_path, monkeypatch):
    """Two runs on two cores: a 2-step run and a run of a few seconds; after the short one, the long one's
    timing records say it trains with both cores. (The idle measurement is held at one idle core, so that the
    test does not depend on what else the machine is doing.)"""
    monkeypatch.setattr(runner, "cpu_count", lambda: 2)
    monkeypatch.setattr(runner.IdleMeter, "idle_cores", lambda self: 1.0)
    # The lend is forced whatever the machine is doing; on cores busy with other work, OpenMP's spinning waits made
    # the lent run's steps 5-40x slower (this test: 75-110 s instead of about 12 s). Passive waits keep it short.
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    tiny = ("model.generator_widths=32,32", "model.critic_widths=32,32", "train.batch_size=32", "log.log_every=50")
    short = training_runs(("eight_gaussians",), ("gan",), 1, steps=2, eval_every=0, eval_samples=64, extra=tiny)
    long = training_runs(("eight_gaussians",), ("wgan-gp",), 1, steps=500, eval_every=0, eval_samples=64,
                         extra=tiny)  # fmt: skip
    plan = Plan("lend", "quick", 1, short + long, {})
    assert runner.execute(plan, tmp_path, jobs=2, progress=False, lend_free_cores=True) == []
    folder = RunFolder(plan.folder(tmp_path, long[0])).path
    # It started with its one thread (run.json is written before the first step reads the pool's file). Its first
    # timing record may already show two: on CI the 2-step run ended before the long one reached step 50.
    assert json.loads((folder / "run.json").read_text())["threads"] == 1
    counts = [json.loads(line)["threads"] for line in (folder / "timing.jsonl").read_text().splitlines()]
    assert counts[-1] == 2, counts
    assert not list(tmp_path.rglob("*.threads"))  # the pool's files live outside the study folder
