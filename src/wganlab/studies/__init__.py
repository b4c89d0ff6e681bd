"""Studies: each module of this package is one study, reproducing a figure or a claim of the seeds as a plan of runs.

Adding a study is one file here (plus its test): the module's name, with dashes for underscores, is the study's
name (`toy_training.py` is `wganlab study toy-training`), found without being listed anywhere. What a study module
defines, and what the scaffolding they share does (the runner, reports, figure style, the toy and image cell
grids), is in `wganlab.studies.common`; `wganlab.studies.common.study.run_study` plans, runs and collects them.

This file imports nothing, so `wganlab --help` lists the studies without loading torch. `DASHED_NAMES` is how it
tells `wganlab.plugins` that its names have dashes where the file names have underscores.
"""

DASHED_NAMES = True
