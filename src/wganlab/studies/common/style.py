"""One look for every figure: a colour-blind-safe colour per objective (Okabe & Ito's palette), the same in
every figure; fonts legible at a report's width; figures made without pyplot, so importing wganlab never
changes a notebook's matplotlib backend."""

import contextlib
from collections import Counter
from typing import Any

import matplotlib
import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision deficiencies.
OBJECTIVE_COLOURS = {
    "gan": "#D55E00",  # vermillion
    "wgan": "#0072B2",  # blue
    "wgan-gp": "#009E73",  # bluish green
    "sngan": "#CC79A7",  # reddish purple
}
OBJECTIVE_TITLES = {"gan": "GAN", "wgan": "WGAN", "wgan-gp": "WGAN-GP", "sngan": "SNGAN"}
# Okabe-Ito: orange, sky blue, reddish purple, black (its yellow is too faint for lines on white)
EXTRA_COLOURS = ("#E69F00", "#56B4E9", "#CC79A7", "#000000")
REAL_COLOUR = "#7F7F7F"  # real data: grey under the coloured samples
SAMPLE_COLOUR = "#0072B2"
RC = {
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "legend.fontsize": 8.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


def colour(name: str, index: int = 0) -> str:
    """The objective's colour, or a palette colour for anything else (by index)."""
    return OBJECTIVE_COLOURS.get(name, EXTRA_COLOURS[index % len(EXTRA_COLOURS)])


def ordered_colours(n: int) -> list[str]:
    """n colours for the ordered values of one setting (a clipping bound, a learning rate): viridis from dark purple
    to green-yellow, leaving out its palest end, which is hard to see on white."""
    return [to_hex(colormaps["viridis"](0.85 * k / max(n - 1, 1))) for k in range(n)]


def title(objective: str) -> str:
    return OBJECTIVE_TITLES.get(objective, objective)


def rc() -> contextlib.AbstractContextManager:
    """The house settings, for the whole of a plotting function (matplotlib reads them as it draws)."""
    return matplotlib.rc_context(RC)


def figure(rows: int = 1, columns: int = 1, *, width: float, height: float, **kwargs: Any) -> tuple[Figure, np.ndarray]:
    """A Figure (no pyplot) with a (rows, columns) array of axes and constrained layout; call inside `rc()`."""
    made = Figure(figsize=(width, height), layout="constrained")
    return made, made.subplots(rows, columns, squeeze=False, **kwargs)


def fixed_square_limits(axes, limit: float) -> None:
    """The same square window on every panel, so scatters at different steps compare directly."""
    for axis in np.ravel(axes):
        axis.set_xlim(-limit, limit)
        axis.set_ylim(-limit, limit)
        axis.set_aspect("equal", adjustable="box")


def plain_log_ticks(axis, which: str = "xy") -> None:
    """Plain-number labels (100, 200, 500, 1000) at 1, 2 and 5 times each power of ten on a log axis, in place of
    matplotlib's 2×10² minor labels, which collide where a decade is narrow. `which`: "x", "y" or "xy"."""
    for name in which:
        scale = getattr(axis, f"{name}axis")
        scale.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        scale.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        scale.set_minor_formatter(NullFormatter())


def by_step(rows: list[dict], key: str, steps: list[int]) -> np.ndarray:
    """rows[key] at each of `steps`: one line per step, one column per run evaluated there, padded with NaN. Under a
    stop rule (`--scale long`) runs end at different steps, so later steps hold fewer runs and nanmean, nanmin and
    nanmax take the runs still training; runs of one length give the plain array."""
    table = [[r[key] for r in rows if r["step"] == s] for s in steps]
    width = max((len(values) for values in table), default=0)
    return np.array([values + [np.nan] * (width - len(values)) for values in table], dtype=float)


def uneven(rows: list[dict]) -> bool:
    """Whether some steps hold fewer evaluations than others: runs that a stop rule ended at different steps."""
    return len(set(Counter(r["step"] for r in rows).values())) > 1


def band_note(rows: list[dict]) -> str:
    """What a mean-and-band figure's caption adds when its runs ended at different steps (see `by_step`)."""
    return (
        " The runs ended at different steps (the stop rule): past a run's last evaluation, the line and band are "
        "over the runs still training."
        if uneven(rows)
        else ""
    )
