"""The protocol between the probe suite and whoever reads its results: every tool output's format and
its parser, side by side, and the structured payload each result carries.

- `hooks`: TransformerLens hook names (`blocks.{l}.attn.hook_pattern`, …), built in one place;
- `cap`: the tool-output cap (tokens, characters) and how an output is cut to it;
- `raw`: the names of raw residual dimensions (`d0 … dN`);
- `values`: how tokens, sequences and numbers are written, and read back;
- `run_model`, `model_info`, `decode`, `activations`: each tool's text format with its parser;
- `payloads`: the structured payload of a successful call (`ToolResult.data`, the LangChain
  ToolMessage `artifact`), made by the parser of the text the tool printed, so the two always agree.

Deterministic investigators read payloads, never text; what an LLM reads is the text alone.
"""
