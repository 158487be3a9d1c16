#!/usr/bin/env bash
# Quick start: set up, then run the main job on the embedded defaults (SQLite,
# embedded Valkey, bundled offline model; files under ~/.local/share/whisperops):
# the whole stack starts under honcho, a two-party call (espeak-ng voices, agent on
# the left channel, customer on the right) and a mono recording of two real people
# on a phone line are dropped into the inbox, and the script waits until each is
# transcribed with speakers (the channel backend, then the packaged speaker model).
# The stack keeps running after.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

export PATH="$PWD/.venv/bin:$PATH"
data_dir="$(whisperops config data_dir)"
inbox="$(whisperops config inbox_dir)"
mkdir -p "$data_dir" "$inbox"
log="$data_dir/stack.log"

if [ -f "$data_dir/stack.pid" ] && kill -0 "$(cat "$data_dir/stack.pid")" 2>/dev/null; then
  echo "== the stack is already running (pid $(cat "$data_dir/stack.pid"))"
else
  echo "== honcho start   (log: $log)"
  # Name the channel backend's speakers for the demo call (unless you chose names).
  export WHISPEROPS_CHANNEL_SPEAKER_NAMES="${WHISPEROPS_CHANNEL_SPEAKER_NAMES:-agent,customer}"
  nohup honcho start >"$log" 2>&1 &
  echo $! >"$data_dir/stack.pid"
fi

# Waits for the recording dropped as $1, then shows it and the first lines of its transcript.
show_when_done() {
  local name="$1" status="" id txt
  echo "== dropped $name into $inbox; waiting for it to be transcribed"
  for _ in $(seq 1 180); do
    status="$(whisperops list --json --search "$name" 2>/dev/null \
      | python3 -c 'import json,sys; rows=json.load(sys.stdin); print(rows[0]["status"] if rows else "")')"
    case "$status" in done|failed) break ;; esac
    sleep 1
  done
  id="$(whisperops list --json --search "$name" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')"
  echo "== recording #$id is $status"
  whisperops show "$id"
  txt="$(whisperops show "$id" --json | python3 -c 'import json,sys; print(next((f for f in json.load(sys.stdin)["output_files"] if f.endswith(".txt")), ""))')"
  if [ -n "$txt" ]; then
    echo "== transcript: $txt"
    head -n 8 "$txt"
  fi
}

stamp="$(date +%Y%m%d-%H%M%S)"
# A stereo call as call recorders write them: each party on its own channel, with
# the other party's bleed; built from espeak-ng voices (scripts/stereo_calls.py).
name="support-call-$stamp.wav"
.venv/bin/python -m scripts.stereo_calls "$data_dir/$name"
mv "$data_dir/$name" "$inbox/$name"
show_when_done "$name"

# A mono recording of two real people on one phone line (the bundled 30-s sample),
# at a gain of its own each run so that it is never a duplicate: speakers S1, S2.
name="mono-call-$stamp.wav"
.venv/bin/python - "$data_dir/$name" <<'PY'
import random, sys
from faster_whisper.audio import decode_audio
from scripts.stereo_calls import write_wav
from whisperops.pipeline.transcriber import SPEECH_SAMPLE
write_wav(sys.argv[1], decode_audio(str(SPEECH_SAMPLE)) * random.uniform(0.7, 0.95))
PY
mv "$data_dir/$name" "$inbox/$name"
show_when_done "$name"

cat <<NOTE

The stack is still running (honcho pid $(cat "$data_dir/stack.pid"), log $log).
  Live console:   .venv/bin/whisperops console
  Metrics:        curl http://127.0.0.1:$(whisperops config exporter_port)/metrics
  RQ queues:      .venv/bin/rq info --url \$(.venv/bin/whisperops valkey url)
  More audio:     drop files into $inbox
  Stop it:        kill $(cat "$data_dir/stack.pid")
NOTE
