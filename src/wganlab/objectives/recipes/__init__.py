"""Recipes, the values of objective.name: a published training setup, one module each. A recipe module (see
`wganlab.plugins`) defines:

    NAME: str        its name, the file's name with dashes for underscores (checked): `wgan_gp.py` is wgan-gp
    RECIPE: Recipe   `Recipe(NAME, loss=..., constraint=..., reference=..., settings=...)`: a loss and a constraint
                     by name and the config sections its paper published, layered under the user's file

Recipe modules import no torch, and this file imports nothing: a config names and resolves its recipe without it.
"""

DASHED_NAMES = True
