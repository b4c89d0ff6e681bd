"""A study on a cluster: its plan as a Slurm array script or as a job list for GNU parallel.

Both list every run of the plan, finished ones too, so that an array index always names the same run. Each
entry is `wganlab study NAME <size> --out STUDY_DIR --run KEY`, which decides when it starts, from the run's
folder, what the run still needs: nothing (finished: it exits 0 at once), a resume (a checkpoint is there) or a
start. The same script submitted again, after a time limit, a preemption or a failure, therefore skips the
finished runs and continues the others. The commands hold the study folder's absolute path: every node must see
it at that path (a shared file system), and `--collect` then works from any machine that sees the folder.
"""

import shlex
from dataclasses import dataclass
from pathlib import Path

from wganlab.files import atomic_write_text
from wganlab.studies.common.runner import Plan, StudyError, folder_name, size_flags, state

FORMATS = ("commands", "slurm", "parallel")
FILE_NAMES = {"slurm": "slurm.sh", "parallel": "parallel.txt"}


@dataclass(frozen=True)
class PlanFormat:
    """How `wganlab study NAME --plan` writes the plan."""

    format: str = "commands"
    """commands: one command per unfinished run on stdout; slurm: an sbatch array script; parallel: a job list."""
    file: Path | None = None
    """Where the slurm script or the job list goes (default: slurm.sh or parallel.txt in the study folder)."""
    cpus_per_run: int = 1
    """Cores per run: the array's --cpus-per-task, and OMP_NUM_THREADS of every run."""
    slurm_options: tuple[str, ...] = ()
    """Further sbatch options, one per #SBATCH line (--partition=gpu, --gres=gpu:1, --time=04:00:00, --mem=8G)."""
    jobs: int = 1
    """Runs at once in the suggested `parallel --jobs` command."""

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise StudyError(f"unknown --format {self.format!r}; choose {', '.join(FORMATS)}")
        if self.cpus_per_run < 1:
            raise StudyError(f"--cpus-per-run={self.cpus_per_run} must be >= 1")
        for option in self.slurm_options:
            if not option.startswith("-") or "\n" in option:
                raise StudyError(f"--slurm-option {option!r} is not one sbatch option (e.g. --partition=gpu)")
            if option.lstrip("-").split("=")[0] in ("array", "a"):
                raise StudyError(f"--slurm-option {option!r}: the script's array is its runs, one task each")


def run_commands(plan: Plan, study_dir: Path, data: str | None = None) -> list[list[str]]:
    """`wganlab study NAME ... --run KEY` for every run, the most expensive first (so they start first); the order
    is fixed by the plan, so the same plan always gives the same index to the same run."""
    study_dir = study_dir.resolve()
    base = ["wganlab", "study", plan.study, *size_flags(plan.size, plan.seeds, plan.recipe, plan.fp32), "--out",
            str(study_dir)]  # fmt: skip
    if data is not None:
        base += ["--data", str(Path(data).resolve()) if Path(data).is_file() else data]
    return [[*base, "--run", run.key] for run in sorted(plan.runs, key=lambda run: -run.cost)]


def sbatch_value(text: str) -> str:
    """`text` as the value of an #SBATCH option: sbatch splits those lines at blanks outside double quotes."""
    if '"' in text or "\n" in text:
        raise StudyError(f"{text!r} cannot be written on an #SBATCH line (it holds a double quote or a newline)")
    return f'"{text}"' if any(c.isspace() for c in text) else text


def slurm_script(plan: Plan, study_dir: Path, commands: list[list[str]], options: PlanFormat) -> str:
    """An sbatch array script: task K runs commands[K]; its output goes to STUDY_DIR/logs/<job>_<K>.out."""
    study_dir = study_dir.resolve()
    name = folder_name(plan.study, plan.size, plan.recipe, plan.fp32)
    log = str(study_dir / "logs").replace("%", "%%") + "/%A_%a.out"  # %A: the array's job id, %a: the index
    planned = shlex.join(
        ["wganlab", "study", plan.study, *size_flags(plan.size, plan.seeds, plan.recipe, plan.fp32), "--plan"]
    )
    runs = "\n".join(f"  {shlex.quote(shlex.join(argv))}" for argv in commands)
    threads = options.cpus_per_run
    return f"""#!/bin/bash
#SBATCH --job-name={sbatch_value(f"wganlab-{name}")}
#SBATCH --array=0-{len(commands) - 1}
#SBATCH --cpus-per-task={threads}
#SBATCH --output={sbatch_value(log)}
{"".join(f"#SBATCH {option}{chr(10)}" for option in options.slurm_options)}#
# The {len(commands)} runs of `{planned}`, one array task each.
# Submit it again at any time: a task whose run finished exits at once; a killed run resumes from its checkpoint.
set -uo pipefail
export OMP_NUM_THREADS="${{SLURM_CPUS_PER_TASK:-{threads}}}" MKL_NUM_THREADS="${{SLURM_CPUS_PER_TASK:-{threads}}}"
runs=(
{runs}
)
index="${{SLURM_ARRAY_TASK_ID:?submit this script with sbatch (or set SLURM_ARRAY_TASK_ID to a run index)}}"
if [[ -z "${{runs[$index]:-}}" ]]; then
  echo "no run $index: this script has runs 0-$((${{#runs[@]}} - 1))" >&2
  exit 2
fi
if ! command -v wganlab > /dev/null; then
  echo "wganlab is not on PATH: activate its environment, then submit again (sbatch passes your environment on)" >&2
  exit 2
fi
echo "$(hostname): run $index of ${{#runs[@]}}: ${{runs[$index]}}" >&2
eval "exec ${{runs[$index]}}"
"""


def parallel_list(commands: list[list[str]], options: PlanFormat) -> str:
    """One command per line, each with its thread count, for `parallel --jobs N < FILE` (or xargs, see the docs)."""
    threads = f"OMP_NUM_THREADS={options.cpus_per_run} MKL_NUM_THREADS={options.cpus_per_run}"
    return "".join(f"{threads} {shlex.join(argv)}\n" for argv in commands)


def write_plan(plan: Plan, study_dir: Path, options: PlanFormat, data: str | None = None) -> tuple[Path, str]:
    """Write the slurm script or the job list of `plan`; returns its path and the command that submits it. A
    script also gets its logs folder (Slurm opens a task's output file before the task starts; it makes no folders).
    """
    commands = run_commands(plan, study_dir, data)
    path = (options.file or study_dir / FILE_NAMES[options.format]).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    if options.format == "slurm":
        (study_dir / "logs").mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, slurm_script(plan, study_dir, commands, options))
        path.chmod(0o755)
        return path, shlex.join(["sbatch", str(path)])
    atomic_write_text(path, parallel_list(commands, options))
    return path, f"parallel --jobs {options.jobs} < {shlex.quote(str(path))}"


def finished_count(plan: Plan, study_dir: Path) -> int:
    return sum(state(plan, run, study_dir) == "done" for run in plan.runs)
