"""Errors a user can fix. The CLI prints their one-line message and exits 2, without a traceback."""

import sys


def say(line: str) -> None:
    """One line on stderr in one write: under torchrun every process shares stderr, and `print` writes the text and
    its newline separately, so two processes' lines could run together."""
    sys.stderr.write(f"{line}\n")
    sys.stderr.flush()


class UserError(Exception):
    """A mistake in the user's input: says what, where (file or option) and what to do."""

    exit_code = 2


class ConfigError(UserError):
    """A config file or override is invalid."""


class DataError(UserError):
    """A data source is missing, empty, corrupt or of the wrong kind."""


class CheckpointError(UserError):
    """A checkpoint is missing, corrupt or does not match the run."""


class MetricError(UserError):
    """A metric cannot be computed as asked: a missing Inception file, too few samples, an unknown name."""


class StorageError(UserError):
    """A file cannot be written: the disk is full or the folder is not writable."""


class TrainingDiverged(UserError):
    """A loss, a network, an optimiser's state or an evaluation's samples became non-finite; the last good
    checkpoint is left untouched. Not an input mistake: the CLI exits 3 for it, not 2, and a study's runner
    counts a run that exits 3 as finished (its folder holds the outcome)."""

    exit_code = 3


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's or `kill`'s stop), raised where the process is, so it stops like Ctrl-C does."""
