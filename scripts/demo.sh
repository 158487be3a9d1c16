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

echo "== whisperops enqueue"
whisperops enqueue

echo "== whisperops worker --burst   (transcribes what is queued, then exits)"
whisperops worker --burst 2>&1 | grep -E "Step [0-9]|Transcription|Recording done|failed at step" || true

echo "== whisperops list"
whisperops list

id="$(whisperops list --json --search welcome-call | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')"
echo "== whisperops show $id"
whisperops show "$id"

cat <<NOTE

Transcripts are in $(whisperops config output_dir) (JSON, SRT, VTT, TXT).
Run a long-lived worker with: .venv/bin/whisperops worker
Coming with the open issues: the scheduled sweep, the live console
(whisperops console) and the Prometheus exporter; see README.md "Status".
NOTE
