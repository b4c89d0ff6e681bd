"""Counting a step's floating-point operations (torch's FlopCounterMode: matrix products and convolutions, forward,
backward and the gradient penalty's double backward), for FLOP/s in the speed benchmark and training compute in the
studies. Counts follow from the shapes alone, so they are the same on every machine."""

from torch.utils.flop_counter import FlopCounterMode


class _GlobalOnly:
    """Stands in for FlopCounterMode's per-module tracker, whose hooks break autograd.grad (the penalty's input
    gradient); the count is then global only, which is all that is read."""

    parents = {"Global"}

    def __enter__(self):
        return self

    def __exit__(self, *args) -> None:
        pass


def flop_counter() -> FlopCounterMode:
    """A FlopCounterMode that prints nothing and counts globally (use as a context manager; get_total_flops())."""
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _GlobalOnly()
    return counter
