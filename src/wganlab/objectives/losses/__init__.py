"""Losses, the values of objective.loss: what the critic and the generator optimise, one module each, named after
its file. A loss module (see `wganlab.plugins`) defines:

    NAME: str      its file's name (checked): what objective.loss names
    LOSS: type     the class, following `wganlab.objectives.registry.Loss`: `from_config(config, context)`,
                   `critic_loss`, `generator_loss`, `estimate` and `estimate_name` (the key its estimate is logged
                   under: logging and the progress bar read it)

This file imports nothing, so the names are listed without loading torch.
"""
