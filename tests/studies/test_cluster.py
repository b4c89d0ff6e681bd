"""A study on a cluster: the Slurm array script and the GNU parallel list map every index to its run, quote paths
safely, and leave the decision (skip, resume, start) to the run when it starts; a moved study folder collects."""

import dataclasses
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import wganlab
from wganlab import cli
from wganlab.studies import toy_training
from wganlab.studies.common import cluster, study
from wganlab.studies.common.cluster import PlanFormat
from wganlab.studies.common.runner import Plan, StudyError, state
from wganlab.studies.common.toys import OBJECTIVES, training_runs
from wganlab.training.run_folder import RunFolder

TINY = ("model.generator_widths=32,32", "model.critic_widths=32,32", "train.batch_size=32")
# A stand-in for `wganlab` on PATH: prints its thread count and arguments, one per line.
ECHO = '#!/bin/sh\nprintf "%s\\n" "threads=$OMP_NUM_THREADS" "$@"\n'


def tiny_plan(objectives=OBJECTIVES) -> Plan:
    runs = training_runs(("eight_gaussians",), objectives, 1, steps=4, eval_every=2, eval_samples=64, extra=TINY)
    settings = {"toys": ("eight_gaussians",), "steps": 4, "eval_every": 2, "eval_samples": 64}
    return Plan(toy_training.NAME, "quick", 1, runs, settings)


@pytest.fixture
def fake_wganlab(tmp_path) -> dict[str, str]:
    """An environment whose `wganlab` echoes what it was asked to do."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "wganlab").write_text(ECHO)
    (bin_dir / "wganlab").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    return {**env, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def expected_args(plan: Plan, study_dir: Path, key: str) -> list[str]:
    return ["study", plan.study, "--quick", "--seeds=1", "--out", str(study_dir.resolve()), "--run", key]


def test_slurm_script_parses_and_runs_each_index_as_its_run(tmp_path, fake_wganlab):
    plan, study_dir = tiny_plan(), tmp_path / "my studies" / "it's here"  # a blank and a quote in the path
    options = PlanFormat(format="slurm", cpus_per_run=3, slurm_options=("--partition=gpu", "--gres=gpu:1"))
    path, submit = cluster.write_plan(plan, study_dir, options)
    assert path == (study_dir / "slurm.sh").resolve() and shlex.split(submit) == ["sbatch", str(path)]
    assert (study_dir / "logs").is_dir() and os.access(path, os.X_OK)
    subprocess.run(["bash", "-n", str(path)], check=True)
    script = path.read_text()
    n = len(plan.runs)
    log = f'--output="{study_dir.resolve()}/logs/%A_%a.out"'  # blanks: double quotes, as sbatch reads them
    for line in ("--array=0-3", "--cpus-per-task=3", "--partition=gpu", "--gres=gpu:1",
                 "--job-name=wganlab-toy-training-quick", log):  # fmt: skip
        assert f"#SBATCH {line}\n" in script
    assert n == 4
    keys = []
    for index in range(n):
        env = {**fake_wganlab, "SLURM_ARRAY_TASK_ID": str(index)}
        done = subprocess.run(["bash", str(path)], env=env, capture_output=True, text=True, check=True)
        lines = done.stdout.splitlines()
        assert lines[0] == "threads=3"  # no SLURM_CPUS_PER_TASK: the planned cores
        assert lines[1:] == expected_args(plan, study_dir, lines[-1])
        keys.append(lines[-1])
    assert sorted(keys) == sorted(run.key for run in plan.runs)  # every run once
    env = {**fake_wganlab, "SLURM_ARRAY_TASK_ID": "1", "SLURM_CPUS_PER_TASK": "2"}
    again = subprocess.run(["bash", str(path)], env=env, capture_output=True, text=True, check=True).stdout
    assert again.splitlines()[0] == "threads=2" and again.splitlines()[-1] == keys[1]  # the same run again
    beyond = subprocess.run(["bash", str(path)], env={**fake_wganlab, "SLURM_ARRAY_TASK_ID": str(n)},
                            capture_output=True, text=True)  # fmt: skip
    assert beyond.returncode == 2 and "no run 4: this script has runs 0-3" in beyond.stderr


def test_slurm_script_without_wganlab_on_path_says_what_to_do(tmp_path):
    path, _ = cluster.write_plan(tiny_plan(), tmp_path, PlanFormat(format="slurm"))
    env = {"PATH": "/usr/bin:/bin", "SLURM_ARRAY_TASK_ID": "0"}
    done = subprocess.run(["bash", str(path)], env=env, capture_output=True, text=True)
    assert done.returncode == 2 and "wganlab is not on PATH: activate its environment" in done.stderr


def test_the_most_expensive_runs_get_the_first_indices():
    plan = tiny_plan()
    plan.runs = [dataclasses.replace(run, cost=cost) for run, cost in zip(plan.runs, (1, 2, 5, 2), strict=True)]
    commands = cluster.run_commands(plan, Path("studies"))
    assert [argv[-1] for argv in commands] == [plan.runs[i].key for i in (2, 1, 3, 0)]  # ties: the plan's order


def test_parallel_list_has_one_line_per_run_each_a_shell_command(tmp_path, fake_wganlab):
    plan, study_dir = tiny_plan(), tmp_path / "a study"
    path, submit = cluster.write_plan(plan, study_dir, PlanFormat(format="parallel", cpus_per_run=2, jobs=3))
    assert submit == f"parallel --jobs 3 < '{path}'" and path == (study_dir / "parallel.txt").resolve()
    lines = path.read_text().splitlines()
    assert len(lines) == len(plan.runs)
    keys = []
    for line in lines:
        out = subprocess.run(["sh", "-c", line], env=fake_wganlab, capture_output=True, text=True, check=True)
        keys.append(out.stdout.splitlines()[-1])
        assert out.stdout.splitlines() == ["threads=2", *expected_args(plan, study_dir, keys[-1])]
    assert sorted(keys) == sorted(run.key for run in plan.runs)


def test_plan_options_are_checked():
    with pytest.raises(StudyError, match="the script's array is its runs"):
        PlanFormat(format="slurm", slurm_options=("--array=0-9",))
    with pytest.raises(StudyError, match="is not one sbatch option"):
        PlanFormat(format="slurm", slurm_options=("gpu",))
    with pytest.raises(StudyError, match="cannot be written on an #SBATCH line"):
        cluster.sbatch_value('a "quoted" path')


def test_cli_writes_the_script_and_prints_how_to_submit_it(tmp_path, capsys):
    out = tmp_path / "d"
    assert cli.main(["study", "distances", "--quick", "--plan", "--format", "slurm", "--out", str(out),
                     "--cpus-per-run", "2", "--slurm-option=--time=00:10:00"]) == 0  # fmt: skip
    printed = capsys.readouterr()
    assert printed.out == f"sbatch {out.resolve()}/slurm.sh\n"
    assert "distances: 2 runs (0 finished) in" in printed.err
    script = (out / "slurm.sh").read_text()
    assert "#SBATCH --array=0-1\n" in script and "#SBATCH --time=00:10:00\n" in script
    assert cli.main(["study", "distances", "--quick", "--plan", "--format", "parallel", "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"parallel --jobs 1 < {out.resolve()}/parallel.txt\n"
    assert len((out / "parallel.txt").read_text().splitlines()) == 2
    assert cli.main(["study", "distances", "--quick", "--format", "slurm"]) == 2
    assert "add --plan" in capsys.readouterr().err
    assert cli.main(["study", "distances", "--quick", "--plan", "--plan-file", "x.sh"]) == 2
    assert "for --format slurm or parallel" in capsys.readouterr().err


@pytest.fixture
def two_runs(tmp_path, monkeypatch, in_process) -> tuple[Plan, Path]:
    """A finished run and a run killed after its last checkpoint (its outcome.json removed); the study's plan
    is this one, whatever `wganlab study` is asked."""
    plan, study_dir = tiny_plan(("gan", "wgan-gp")), tmp_path / "study"
    in_process(plan, study_dir)
    RunFolder(plan.folder(study_dir, plan.runs[1])).outcome_path.unlink()
    monkeypatch.setattr(study, "make_plan", lambda *args, **kwargs: plan)
    return plan, study_dir


def test_a_finished_run_exits_at_once_and_a_killed_one_resumes(two_runs, capsys):
    plan, study_dir = two_runs
    finished, killed = plan.runs
    outcome = plan.folder(study_dir, finished) / "outcome.json"
    before = outcome.stat().st_mtime_ns
    args = ["study", plan.study, "--quick", "--seeds=1", "--out", str(study_dir), "--run"]
    assert cli.main([*args, finished.key]) == 0
    assert outcome.stat().st_mtime_ns == before and "finished already" in capsys.readouterr().err
    assert state(plan, killed, study_dir) == "partial"
    argv = study.run_one(plan.study, killed.key, size="quick", seeds=1, out=study_dir)
    assert argv[0] == "train" and argv[-2:] == ["log.progress=false", "--resume"]
    facts = RunFolder(plan.folder(study_dir, killed)).facts_path
    started = facts.stat().st_mtime_ns  # a start would write run.json again; a resume keeps it
    assert cli.main([*args, killed.key]) == 0
    assert state(plan, killed, study_dir) == "done" and facts.stat().st_mtime_ns == started


def test_a_run_not_started_starts_and_an_unknown_key_is_refused(two_runs, capsys):
    plan, study_dir = two_runs
    fresh = study.run_one(plan.study, plan.runs[0].key, size="quick", seeds=1, out=study_dir / "elsewhere")
    assert fresh[:2] == ["train", plan.runs[0].preset] and "--resume" not in fresh
    args = ["study", plan.study, "--quick", "--out", str(study_dir), "--run", "no/such/run"]
    assert cli.main(args) == 2 and "has no run 'no/such/run'" in capsys.readouterr().err


def test_collect_reads_a_study_folder_moved_to_another_path(tmp_path, in_process):
    # Runs made on other machines into a shared folder, collected where that folder is mounted elsewhere.
    plan = tiny_plan()
    made, moved = tmp_path / "cluster" / "toy-training", tmp_path / "my laptop" / "toy-training"
    in_process(plan, made)
    moved.parent.mkdir()
    shutil.move(made, moved)
    study.collect(plan, moved, toy_training)
    for name in ("report.md", "final.csv", "curves.csv", "timing.json"):
        assert str(tmp_path / "cluster") not in (moved / name).read_text()
    assert all(state(plan, run, moved) == "done" for run in plan.runs)


DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol")
SLURM_CONF = """\
ClusterName=wganlabtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
# Both daemons listen on 127.0.0.1 only (without these, slurmctld binds every address).
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(check, seconds: float, what: str, logs: Path) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            tails = {p.name: p.read_text(errors="replace")[-1500:] for p in sorted(logs.glob("*")) if p.is_file()}
            pytest.fail(f"{what} after {seconds:.0f} s; daemon logs: {tails}")
        time.sleep(1)


@pytest.fixture
def slurm(tmp_path) -> dict[str, str]:
    """A one-node Slurm cluster on this machine (Debian's slurm-wlm and munge, installed by hand), its daemons
    in the foreground as this test's children; yields the environment its commands need."""
    absent = [name for name in DAEMONS if shutil.which(name, path=f"{os.environ['PATH']}:/usr/sbin:/sbin") is None]
    if absent:
        pytest.skip(f"needs Slurm and MUNGE ({', '.join(absent)} not found): apt-get install slurm-wlm munge")
    if os.geteuid() != 0:
        pytest.skip("needs root: slurmd starts each job as its user, and this config runs the daemons as root")
    root = tmp_path / "slurm"
    for folder in ("munge", "state", "spool", "log"):
        (root / folder).mkdir(parents=True)
    (root / "munge").chmod(0o700)
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    memory_mb = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 * 9 // 10
    conf = root / "slurm.conf"
    conf.write_text(SLURM_CONF.format(root=root, ctld_port=free_port(), slurmd_port=free_port(),
                                      cpus=os.cpu_count(), memory_mb=memory_mb))  # fmt: skip
    env = {**os.environ, "SLURM_CONF": str(conf), "PATH": f"{os.environ['PATH']}:/usr/sbin:/sbin"}
    env = {k: v for k, v in env.items() if not k.startswith(("SLURM_JOB", "SLURM_ARRAY"))}
    daemons = []
    try:
        for argv in (
            ["munged", "-F", "--force", f"--key-file={key}", f"--socket={root}/munge/munge.socket",
             f"--pid-file={root}/munge/munged.pid", f"--seed-file={root}/munge/seed", f"--log-file={root}/log/munged"],
            ["slurmctld", "-D", "-f", str(conf)],
            ["slurmd", "-D", "-N", "localhost", "-f", str(conf)],
        ):  # fmt: skip
            log = open(root / "log" / f"{argv[0]}.out", "w")
            daemons.append(subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT))
            log.close()
            time.sleep(1)

        def idle() -> bool:
            shown = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True)
            return shown.stdout.strip() == "idle"

        wait_for(idle, 60, "the node is not idle", root / "log")
        yield env
    finally:
        for daemon in reversed(daemons):
            daemon.terminate()
        for daemon in reversed(daemons):
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()


def submit_and_wait(script: Path, env: dict[str, str], logs: Path) -> float:
    """Submit the array, wait until none of its tasks is queued or running; the seconds that took."""
    started = time.monotonic()
    job = subprocess.run(["sbatch", "--parsable", str(script)], env=env, capture_output=True, text=True, check=True)
    job_id = job.stdout.strip().split(";")[0]

    def finished() -> bool:
        queued = subprocess.run(["squeue", "-h", "-j", job_id], env=env, capture_output=True, text=True)
        return queued.returncode == 0 and not queued.stdout.strip()

    wait_for(finished, 600, f"array job {job_id} is still queued or running", logs)
    shown = subprocess.run(["scontrol", "show", "job", job_id], env=env, capture_output=True, text=True).stdout
    states = re.findall(r"JobState=(\w+)", shown)
    exits = re.findall(r"ExitCode=(\S+)", shown)
    assert states and set(states) == {"COMPLETED"} and set(exits) == {"0:0"}, shown
    return time.monotonic() - started


@pytest.mark.slow  # a real Slurm: about 2 minutes on 2 cores (docs/running-studies.md, "On a cluster")
def test_a_slurm_array_trains_a_study_a_resubmission_skips_it_and_a_moved_folder_collects(tmp_path, slurm):
    # `wganlab` on the PATH that sbatch passes on: this interpreter with this checkout's package.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "wganlab").write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m wganlab "$@"\n')
    (bin_dir / "wganlab").chmod(0o755)
    package = str(Path(wganlab.__file__).resolve().parents[1])
    env = {**slurm, "PATH": f"{bin_dir}:{slurm['PATH']}",
           "PYTHONPATH": os.pathsep.join(filter(None, [package, os.environ.get("PYTHONPATH")]))}  # fmt: skip
    study_dir = tmp_path / "shared disk" / "toy-training"
    flags = ["study", "toy-training", "--quick", "--seeds", "1", "--out", str(study_dir)]
    planned = subprocess.run(["wganlab", *flags, "--plan", "--format", "slurm"], env=env, capture_output=True,
                             text=True, check=True)  # fmt: skip
    script = study_dir / "slurm.sh"
    assert shlex.split(planned.stdout) == ["sbatch", str(script.resolve())]
    logs = tmp_path / "slurm" / "log"
    first = submit_and_wait(script, env, logs)
    plan = study.make_plan("toy-training", "quick", 1)
    assert len(plan.runs) == 4 and all(state(plan, run, study_dir) == "done" for run in plan.runs)
    # Resubmitted: every task finds its run finished and exits at once, except one made to look killed after its
    # last checkpoint, which resumes (a start would write its run.json again).
    killed = RunFolder(plan.folder(study_dir, plan.runs[1]))
    killed.outcome_path.unlink()
    facts = killed.facts_path.stat().st_mtime_ns
    second = submit_and_wait(script, env, logs)
    assert killed.outcome()["status"] == "finished" and killed.facts_path.stat().st_mtime_ns == facts
    outputs = sorted((study_dir / "logs").glob("*.out"))
    assert len(outputs) == 8
    skipped = sum("finished already" in path.read_text() for path in outputs)
    assert skipped == 3, [path.read_text()[-500:] for path in outputs]
    # Collected where the shared folder is mounted at another path.
    moved = tmp_path / "elsewhere" / "toy-training"
    moved.parent.mkdir()
    shutil.move(study_dir, moved)
    collected = subprocess.run(["wganlab", "study", "toy-training", "--quick", "--seeds", "1", "--collect", "--out",
                                str(moved)], env=env, capture_output=True, text=True)  # fmt: skip
    assert collected.returncode == 0, collected.stderr
    assert (moved / "report.md").is_file() and str(study_dir) not in (moved / "report.md").read_text()
    print(f"\nslurm array of {len(plan.runs)} toy-training --quick runs: {first:.0f} s; resubmitted (3 skipped, "
          f"1 resumed): {second:.0f} s")  # fmt: skip


def test_cli_status_starts_nothing_and_counts_the_runs(tmp_path, capsys):
    out = tmp_path / "d"
    assert cli.main(["study", "distances", "--quick", "--status", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    counts = "2 runs: 0 finished, 0 training, 0 started, 2 not started"
    assert lines[0] == f"distances (--quick --seeds=2): {counts}; folder {out}"
    assert len(lines) == 2 + 2 and all("not started" in line for line in lines[2:])
    assert not any(out.rglob("*.toml"))  # nothing was planned into the folder, nothing trained
    assert cli.main(["study", "distances", "--quick", "--status", "--plan"]) == 2
    assert "--status and --plan exclude each other" in capsys.readouterr().err
