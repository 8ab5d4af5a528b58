"""Generated subjects: random RASP programs nobody has memorized, each named by an id `gen-S-D-I`.

sampler (candidate programs, each drawn step evaluated by trace and refused when it does nothing)
→ candidate (simplify on the whole domain, refuse a step that still does nothing or a program
that does not measure up to its difficulty) → filters (the behaviour rules, with counted reasons)
→ registry (the deterministic sequence of accepted ids, cached, compiled and verified) → task (a
zoo-style Task: the RASP evaluation is the reference), with render (pseudo-code, a runnable module
and a description), features and stats for scoring and reports. Nothing here reaches the agent.
"""
