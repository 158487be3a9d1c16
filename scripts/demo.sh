#!/usr/bin/env bash
# Quick start: set up, then run the main job on the embedded defaults
# (SQLite and files under ~/.local/share/whisperops; nothing to configure).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

export PATH="$PWD/.venv/bin:$PATH"
data_dir="$(whisperops config data_dir)"
samples="$data_dir/samples"
mkdir -p "$samples"

echo "== whisperops migrate"
whisperops migrate

sample="$samples/welcome-call.wav"
if [ ! -f "$sample" ]; then
  espeak-ng -v en-us -s 150 -w "$sample" \
    "Hello, thank you for calling. This is a short recording made for the whisperops demo. \
Every file you drop in the inbox is transcribed, with speakers, and you can see each step."
fi
echo "== whisperops add $sample"
whisperops add "$sample"

echo "== whisperops list"
whisperops list

cat <<NOTE

The sample is queued. What works today: ingest (whisperops add), the recordings
table (whisperops list / show, --json), requeue and fail. The transcription worker,
sweep, console and exporter are being built; see README.md "Status".
NOTE
