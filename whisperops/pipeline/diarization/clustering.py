"""Speakers from voice embeddings: how many there are and which window is whose.

Each window's embedding is first averaged with its neighbours in the same stretch
of speech (a voice does not change every 0.4 s, noise does), then centred on the
recording's mean voice (what every window shares, the line and the room, is taken
out) and clustered by k-means for 1, 2, 3, ... speakers. One more speaker is
accepted only while the split makes the clusters markedly tighter (the mean
similarity to their centroid rises by MIN_TIGHTER), leaves no two centroids as alike
as one person's voice (SAME_VOICE_COSINE on the raw embeddings) nor two clusters
that merely halve one cloud of windows (MIN_SEPARATION), and every cluster holds a
real share of the speech (MIN_CLUSTER_SHARE, MIN_SPEAKER_WINDOWS).

The thresholds were set on pyannote.audio's real two-speaker sample and recordings
built from it (re-orderings with seeds 1-12, monologues, three voices), and checked
on re-orderings and mixes they were not set on (seeds 13-24: docs/benchmarks.md,
bench/diarization.py). numpy only: the core install has no scipy or scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_FIT_WINDOWS = 2000  # k-means is fitted on at most this many windows; the rest are assigned
SAME_VOICE_COSINE = 0.875  # centroids this alike (raw embeddings) are one speaker
MIN_TIGHTER = 0.02  # one more speaker must raise the mean similarity to centroids this much
# Two speakers' windows stand apart along the line between their centroids by at least
# this many (pooled) standard deviations; k-means cutting one voice in two (by what is
# said, or how) leaves halves about 5 apart, two people 6.2 to 12.
MIN_SEPARATION = 6.0
MIN_CLUSTER_SHARE = 0.04  # a cluster with less of the speech than this is not a participant
# ... nor one of fewer windows (3.2 s of speech): on a few windows k-means tightens any
# split by chance (10 s of one espeak-ng voice came out as 3 speakers without this).
MIN_SPEAKER_WINDOWS = 8
SMOOTH_NEIGHBOURS = 1  # windows on each side averaged in, within one stretch of speech
DEFAULT_MAX_SPEAKERS = 8
SEED = 7  # k-means starts: the same recording gets the same speakers every time


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray  # (windows,) speaker index per window, 0..count-1 by first appearance
    count: int
    decided: str  # how the count was decided, for the step history


def cluster_speakers(
    embeddings: np.ndarray,
    groups: np.ndarray,
    weights: np.ndarray,
    min_speakers: int = 0,
    max_speakers: int = 0,
) -> Clustering:
    """Cluster L2-normalised window ``embeddings`` (windows, dim), in time order, into
    speakers. ``groups`` numbers the stretch of speech each window is in; ``weights``
    are the seconds each stands for. ``min_speakers``/``max_speakers`` (0: unset)
    bound the estimate; both set to one value fix it.
    """
    count = len(embeddings)
    low = max(1, min_speakers)
    high = max(low, max_speakers or DEFAULT_MAX_SPEAKERS)
    decided = count_decided(min_speakers, max_speakers)
    if count == 0:
        return Clustering(np.zeros(0, dtype=int), 0, decided)
    smooth = smoothed(embeddings, groups)
    centred = _normalised(smooth - smooth.mean(axis=0))
    fit = _even_sample(count, MAX_FIT_WINDOWS)
    high = min(high, max(1, len(fit) // MIN_SPEAKER_WINDOWS))
    low = min(low, high)
    chosen = _fit(smooth[fit], centred[fit], weights[fit], low)
    if not min_speakers or min_speakers != max_speakers:
        while chosen.k < high:
            bigger = _fit(smooth[fit], centred[fit], weights[fit], chosen.k + 1)
            if not bigger.accepted_over(chosen):
                break
            chosen = bigger
    labels = np.argmax(centred @ chosen.centres.T, axis=1)
    labels = _without_flickers(labels, groups)
    return Clustering(*_by_first_appearance(labels), decided)


@dataclass(frozen=True)
class _Fit:
    k: int
    centres: np.ndarray  # in the centred space, normalised
    tightness: float  # mean raw similarity of each window to its cluster's raw centroid
    closest_pair: float  # the highest raw cosine between two centroids (-1 for one cluster)
    smallest_share: float
    smallest_windows: int
    separation: float  # the least separated pair of clusters (inf for one cluster)

    def accepted_over(self, fewer: _Fit) -> bool:
        return (
            self.closest_pair < SAME_VOICE_COSINE
            and self.separation >= MIN_SEPARATION
            and self.tightness - fewer.tightness >= MIN_TIGHTER
            and self.smallest_share >= MIN_CLUSTER_SHARE
            and self.smallest_windows >= MIN_SPEAKER_WINDOWS
        )


def _fit(raw: np.ndarray, centred: np.ndarray, weights: np.ndarray, k: int) -> _Fit:
    labels = kmeans(centred, k) if k > 1 else np.zeros(len(raw), dtype=int)
    raw_centres = _centroids(raw, labels, k)
    similarity = raw_centres @ raw_centres.T
    np.fill_diagonal(similarity, -1.0)
    shares = np.array([weights[labels == c].sum() for c in range(k)]) / max(weights.sum(), 1e-9)
    return _Fit(
        k=k,
        centres=_centroids(centred, labels, k),
        tightness=float(np.mean(np.sum(raw * raw_centres[labels], axis=1))),
        closest_pair=float(similarity.max()) if k > 1 else -1.0,
        smallest_share=float(shares.min()),
        smallest_windows=int(np.bincount(labels, minlength=k).min()),
        separation=min(
            (_separation(raw, labels, a, b) for a in range(k) for b in range(a + 1, k)),
            default=np.inf,
        ),
    )


def _separation(points: np.ndarray, labels: np.ndarray, a: int, b: int) -> float:
    """How far apart clusters ``a`` and ``b`` lie along the line between their means, in
    their pooled standard deviation along it (Fisher's discriminant ratio, as a distance)."""
    first, second = points[labels == a], points[labels == b]
    line = first.mean(0) - second.mean(0)
    line /= np.linalg.norm(line) + 1e-10
    along_first, along_second = first @ line, second @ line
    spread = np.sqrt(
        (along_first.var() * len(first) + along_second.var() * len(second))
        / (len(first) + len(second))
    )
    return float(abs(along_first.mean() - along_second.mean()) / (spread + 1e-10))


def smoothed(embeddings: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each embedding averaged with SMOOTH_NEIGHBOURS windows either side in its group."""
    total = embeddings.copy()
    for shift in range(1, SMOOTH_NEIGHBOURS + 1):
        same = groups[shift:] == groups[:-shift]
        total[shift:] += embeddings[:-shift] * same[:, None]
        total[:-shift] += embeddings[shift:] * same[:, None]
    return _normalised(total)


def _without_flickers(labels: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """A single window whose neighbours in the same stretch agree on another speaker
    takes theirs: 0.4 s is no turn."""
    labels = labels.copy()
    for index in range(1, len(labels) - 1):
        if (
            groups[index - 1] == groups[index] == groups[index + 1]
            and labels[index - 1] == labels[index + 1] != labels[index]
        ):
            labels[index] = labels[index - 1]
    return labels


def count_decided(min_speakers: int, max_speakers: int) -> str:
    if min_speakers and min_speakers == max_speakers:
        return "as set"
    if min_speakers or max_speakers:
        return f"estimated within {max(1, min_speakers)}-{max_speakers or DEFAULT_MAX_SPEAKERS}"
    return "estimated"


def _normalised(vectors: np.ndarray) -> np.ndarray:
    return vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-10)


def _even_sample(count: int, limit: int) -> np.ndarray:
    if count <= limit:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, limit).round().astype(int))


def kmeans(points: np.ndarray, k: int, starts: int = 8, rounds: int = 50) -> np.ndarray:
    """Lloyd's k-means with k-means++ starts (a fixed seed), the best of ``starts``."""
    rng = np.random.default_rng(SEED)
    best_labels, best_inertia = np.zeros(len(points), dtype=int), np.inf
    for _ in range(starts):
        centres = [points[rng.integers(len(points))]]
        for _ in range(1, k):
            distance = np.min(_squared_distances(points, np.array(centres)), axis=1)
            total = distance.sum()
            pick = rng.choice(len(points), p=distance / total) if total > 0 else 0
            centres.append(points[pick])
        centres = np.array(centres)
        for _ in range(rounds):
            labels = np.argmin(_squared_distances(points, centres), axis=1)
            moved = np.array(
                [
                    points[labels == c].mean(0) if np.any(labels == c) else centres[c]
                    for c in range(k)
                ]
            )
            if np.allclose(moved, centres):
                break
            centres = moved
        inertia = float(((points - centres[labels]) ** 2).sum())
        if inertia < best_inertia:
            best_labels, best_inertia = labels, inertia
    return best_labels


def _squared_distances(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(points, centres) squared distances, without a (points, centres, dim) array."""
    squared = (points**2).sum(1)[:, None] - 2 * points @ centres.T + (centres**2).sum(1)[None]
    return np.maximum(squared, 0.0)


def _centroids(embeddings: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    centres = np.array(
        [
            embeddings[labels == c].mean(0) if np.any(labels == c) else embeddings[0]
            for c in range(k)
        ]
    )
    return centres / (np.linalg.norm(centres, axis=1, keepdims=True) + 1e-10)


def _by_first_appearance(labels: np.ndarray) -> tuple[np.ndarray, int]:
    order: dict[int, int] = {}
    for label in labels:
        order.setdefault(int(label), len(order))
    return np.array([order[int(label)] for label in labels], dtype=int), len(order)
