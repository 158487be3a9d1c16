"""A small, randomly initialised pyannote.audio 4 speaker-diarization pipeline for tests.

Nothing is downloaded: the models are built here with random (but seeded) weights and
saved in the layout `Pipeline.from_pretrained(local_directory)` expects, the same layout
as pyannote/speaker-diarization-community-1 on Hugging Face:

    directory/config.yaml
    directory/segmentation/pytorch_model.bin
    directory/embedding/pytorch_model.bin
    directory/plda/xvec_transform.npz
    directory/plda/plda.npz

The diarization it produces is meaningless, but the whole pipeline runs, and runs the same
way every time. Import it only after `pytest.importorskip("pyannote.audio")`.
"""

from __future__ import annotations

from pathlib import Path

SEED = 0
SAMPLE_RATE = 16000
# Shorter than the 10 s of the real segmentation model: fewer, cheaper chunks.
CHUNK_DURATION = 5.0
EMBEDDING_DIMENSION = 256
PLDA_DIMENSION = 128


def build_random_pipeline(directory: Path) -> Path:
    """Write a small, randomly initialised but valid pyannote.audio 4.0.7 speaker-diarization
    pipeline into `directory` (config.yaml + model weights + PLDA files) and return `directory`."""
    import numpy as np
    import torch
    import yaml
    from pyannote.audio import __version__ as pyannote_version
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.embedding import XVectorMFCC
    from pyannote.audio.models.segmentation import PyanNet

    directory = Path(directory)

    # Powerset segmentation like the real model: up to 3 speakers per chunk, 2 at once.
    segmentation_specifications = Specifications(
        problem=Problem.MONO_LABEL_CLASSIFICATION,
        resolution=Resolution.FRAME,
        duration=CHUNK_DURATION,
        classes=["speaker#1", "speaker#2", "speaker#3"],
        powerset_max_classes=2,
        permutation_invariant=True,
    )
    embedding_specifications = Specifications(
        problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=CHUNK_DURATION
    )

    # fork_rng: seed the weights without touching the caller's global torch RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        segmentation = PyanNet(
            lstm={"hidden_size": 32, "num_layers": 1},
            linear={"hidden_size": 32, "num_layers": 1},
            sample_rate=SAMPLE_RATE,
        )
        # XVectorMFCC instead of the real WeSpeakerResNet34: it takes the same frame
        # weights (masks) the pipeline passes, and is over 20x faster on CPU.
        embedding = XVectorMFCC(
            # 40 mel bands for the 40 coefficients: torchaudio's default of 128 bands
            # leaves some of them empty and warns about it at every load.
            mfcc={"melkwargs": {"n_mels": 40}},
            dimension=EMBEDDING_DIMENSION,
            sample_rate=SAMPLE_RATE,
        )
        for folder, model, specifications in (
            ("segmentation", segmentation, segmentation_specifications),
            ("embedding", embedding, embedding_specifications),
        ):
            model.specifications = specifications
            model.setup()  # builds the task-dependent layers (PyanNet's classifier)
            _save_checkpoint(model, directory / folder)

    # The pipeline loads a PLDA whatever its clustering (only VBxClustering uses it), so
    # write valid random files with the array names and shapes utils/vbx.py reads:
    # embeddings (D) -> LDA (L) -> PLDA space (L).
    rng = np.random.default_rng(SEED)
    plda = directory / "plda"
    plda.mkdir(parents=True, exist_ok=True)
    np.savez(
        plda / "xvec_transform.npz",
        mean1=rng.standard_normal(EMBEDDING_DIMENSION),
        mean2=rng.standard_normal(PLDA_DIMENSION),
        lda=rng.standard_normal((EMBEDDING_DIMENSION, PLDA_DIMENSION)),
    )
    # An orthogonal `tr` and positive `psi` keep the within- and between-class
    # covariances vbx_setup derives from them positive definite.
    tr, _ = np.linalg.qr(rng.standard_normal((PLDA_DIMENSION, PLDA_DIMENSION)))
    np.savez(
        plda / "plda.npz",
        mu=rng.standard_normal(PLDA_DIMENSION),
        tr=tr,
        psi=np.sort(rng.uniform(0.1, 10.0, PLDA_DIMENSION))[::-1],
    )

    config = {
        "dependencies": {"pyannote.audio": pyannote_version},
        "pipeline": {
            "name": "pyannote.audio.pipelines.SpeakerDiarization",
            "params": {
                # Agglomerative, as in speaker-diarization-3.1: a plain threshold on
                # cosine distances, with no PLDA statistics for random embeddings to upset.
                # (VBxClustering, community-1's choice, also runs on these files.)
                "clustering": "AgglomerativeClustering",
                "segmentation": "$model/segmentation",
                # In chunk durations: 2.5 s steps, so 10 s of audio is 3 chunks.
                "segmentation_step": 0.5,
                "segmentation_batch_size": 32,
                "embedding": "$model/embedding",
                "embedding_batch_size": 32,
                "embedding_exclude_overlap": True,
                "plda": "$model/plda",
            },
        },
        # Hyper-parameters of pyannote/speaker-diarization-3.1 (which also clustered
        # agglomeratively); from_pretrained passes them to `instantiate`.
        "params": {
            "segmentation": {"min_duration_off": 0.0},
            "clustering": {
                "method": "centroid",
                "min_cluster_size": 12,
                "threshold": 0.7045654963945799,
            },
        },
    }
    (directory / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return directory


def _save_checkpoint(model, folder: Path) -> None:
    """Save `model` as the Lightning-style checkpoint `Model.from_pretrained` loads."""
    import lightning
    import torch

    checkpoint = {
        # Lightning's load_from_checkpoint needs its version (checkpoint migrations),
        # the constructor arguments, and the weights.
        "pytorch-lightning_version": lightning.__version__,
        "hyper_parameters": dict(model.hparams),
        "state_dict": model.state_dict(),
    }
    # Adds the "pyannote.audio" entry: versions, architecture (module and class) and
    # specifications, which Model.on_load_checkpoint needs to rebuild the classifier.
    model.on_save_checkpoint(checkpoint)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, folder / "pytorch_model.bin")
