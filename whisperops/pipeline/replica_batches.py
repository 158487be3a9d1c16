"""Batched decoding spread over a model's replicas, reporting each finished part.

faster-whisper's BatchedInferencePipeline decodes a batch of chunks in one call on
one replica, with that replica's threads. Here small-matrix decoding scales better
over single-threaded replicas than over threads of one replica (measured in
docs/benchmarks.md), so each batch is split into one part per replica and the
parts run at once: ``forward`` is the pipeline's per-batch hook, and CTranslate2
releases the GIL while it decodes.

With several replicas every chunk is a part of its own, taken by whichever
replica comes free: one that drew short chunks is not left waiting, and progress
is reported per chunk rather than per batch (on CPU the speed is the same, within
the noise of our measurements, for parts of 1 to 4 chunks). With one replica (a
GPU) the batch stays whole, which is what a GPU needs to be fast.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from faster_whisper import BatchedInferencePipeline


class ReplicaBatchedPipeline(BatchedInferencePipeline):
    def __init__(
        self,
        model,
        pool: ThreadPoolExecutor,
        replicas: int,
        on_decoded: Callable[[float, float], None],
    ) -> None:
        super().__init__(model)
        self.pool = pool
        self.replicas = replicas
        self.on_decoded = on_decoded
        self.decoded_sec = 0.0
        self.work_sec = 0.0
        self.chunk_seconds: list[float] = []
        self._lock = threading.Lock()

    def _batched_segments_generator(self, features, tokenizer, chunks_metadata, *rest):
        # Called by transcribe() with every chunk VAD made, before decoding starts:
        # the progress estimate times the replicas' way through them.
        self.chunk_seconds = [chunk["duration"] for chunk in chunks_metadata]
        return super()._batched_segments_generator(features, tokenizer, chunks_metadata, *rest)

    def forward(self, features, tokenizer, chunks_metadata, options):
        size = len(features) if self.replicas == 1 else 1
        parts = [
            self.pool.submit(
                self._part,
                features[i : i + size],
                tokenizer,
                chunks_metadata[i : i + size],
                options,
            )
            for i in range(0, len(features), size)
        ]
        try:
            return [segments for part in parts for segments in part.result()]
        except BaseException:
            # A cold shutdown or a job timeout, raised while waiting: the parts not yet
            # started are dropped, or the process (and the next job) waits for them.
            for part in parts:
                part.cancel()
            raise

    def _part(self, features, tokenizer, chunks_metadata, options):
        begun = time.perf_counter()
        results = super().forward(features, tokenizer, chunks_metadata, options)
        with self._lock:
            self.decoded_sec += sum(chunk["duration"] for chunk in chunks_metadata)
            # Replica-seconds spent: the pace of the parts done, whatever is in flight.
            self.work_sec += time.perf_counter() - begun
            self.on_decoded(self.decoded_sec, self.work_sec)
        return results
