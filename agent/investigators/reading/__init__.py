"""Reading a model's internals with the tools: residual variables per position on chosen inputs,
and which of them is the model's output. Shared by the decompiler and the open-world baseline."""
