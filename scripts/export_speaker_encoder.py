"""Convert Resemblyzer's packaged GE2E voice encoder (resemblyzer/pretrained.pt) to
ONNX, once, for whisperops' packaged speaker backend (which runs on onnxruntime
alone, with no torch).

Run where the diarization extra is installed (it brings torch and Resemblyzer):

    .venv/bin/python -m scripts.export_speaker_encoder [OUTPUT]

OUTPUT defaults to whisperops/assets/speaker_encoder.onnx. The graph takes
``mels`` (batch, frames, 40) and returns ``embeddings`` (batch, 256), L2-normalised,
exactly as VoiceEncoder.forward; batch and frames are free, so windows of any length
embed in one call. tests/unit/test_speaker_encoder.py checks the result against the
original on real speech.
"""

from __future__ import annotations

import sys
from pathlib import Path

from whisperops.pipeline.diarization.speaker_encoder import ENCODER_PATH, N_MELS


def export(output: Path) -> Path:
    import torch
    from resemblyzer import VoiceEncoder

    encoder = VoiceEncoder(device="cpu", verbose=False).eval()
    example = torch.rand(2, 160, N_MELS)
    torch.onnx.export(
        encoder,
        (example,),
        str(output),
        input_names=["mels"],
        output_names=["embeddings"],
        dynamic_axes={"mels": {0: "batch", 1: "frames"}, "embeddings": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    return output


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else ENCODER_PATH
    print(f"wrote {export(output)} ({output.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
