#!/usr/bin/env bash
# Regenerates the example transcripts in transcripts/ (see docs/transcript-format.md):
# the closed-world baseline investigator (baseline-closed) on reverse, sort and length.
# Usage: scripts/regenerate_examples.sh   (from anywhere; needs `tracr-agent` installed)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p transcripts
for task in reverse sort length; do
    out="transcripts/baseline-${task}.jsonl"
    rm -f "$out"  # the writer appends: start each example afresh
    tracr-agent run "$task" --llm baseline-closed --quiet --transcript "$out"
    tracr-agent replay "$out" --rerun > /dev/null
done
echo "regenerated: transcripts/baseline-{reverse,sort,length}.jsonl"
