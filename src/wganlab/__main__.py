"""`python -m wganlab ...`, which is also what `torchrun ... -m wganlab train ...` runs."""

from wganlab.cli import entry

entry()
