"""The open-world baseline: generic building blocks and enumerative synthesis, no knowledge of the zoo."""
