"""Errors a user can fix. The CLI prints their one-line message and exits 2, without a traceback."""


class UserError(Exception):
    """A mistake in the user's input: says what, where (file or option) and what to do."""


class ConfigError(UserError):
    """A config file or override is invalid."""


class DataError(UserError):
    """A data source is missing, empty, corrupt or of the wrong kind."""


class CheckpointError(UserError):
    """A checkpoint is missing, corrupt or does not match the run."""


class MetricError(UserError):
    """A metric cannot be computed as asked: a missing Inception file, too few samples, an unknown name."""


class TrainingDiverged(UserError):
    """A loss became non-finite; the last good checkpoint is left untouched."""
