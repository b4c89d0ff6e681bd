"""Lipschitz constraints, the values of objective.constraint: one module each, named after its file.

Each is apart from the loss: WGAN = wasserstein + clip, WGAN-GP = wasserstein + penalty, and any other pairing is a
config choice. A constraint module (see `wganlab.plugins`) defines:

    NAME: str               its file's name (checked): what objective.constraint names
    CONSTRAINT: type        the class, following `wganlab.objectives.registry.Constraint`: `from_config(config,
                            context)`, `attach`, `penalty`, `after_critic_step`, `logs_penalty`

Each hook a constraint does not need may be inherited from `none.NoConstraint` (all no-ops). This file imports
nothing, so the names are listed without loading torch.
"""
