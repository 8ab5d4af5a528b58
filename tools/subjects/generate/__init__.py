"""Generated subjects: random RASP programs nobody has memorized, each named by an id `gen-S-D-I`.

sampler (candidate programs) → filters (rejection rules with counted reasons) →
registry (the deterministic sequence of accepted ids, cached) → task (a zoo-style
Task: the RASP evaluation is the reference), with render (pseudo-code and
description) and features for scoring and reports. Nothing here reaches the agent.
"""
