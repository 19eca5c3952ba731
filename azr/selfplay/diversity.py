"""Proposer diversity penalty: penalise near-duplicate proposals within a batch (torch-free).

R-Zero (Huang et al., 2025, "R-Zero: Self-Evolving Reasoning LLM from Zero Data", Sec. 3.3)
adds a repetition penalty to its questioner's reward: the batch's questions are clustered by
BLEU distance d_ij = 1 - BLEU(x_i, x_j) (agglomerative clustering with a distance threshold),
and each question pays ``lambda * |C_k| / B`` where ``C_k`` is its cluster and ``B`` the batch
size; the final reward is ``max(0, r - penalty)``. Here the texts are programs (deduction,
abduction) or the rendered inputs + message (induction), tokenised as Python-ish tokens.

    >>> sim = similarity("bleu", "def f(a):\\n    return a + 1", "def f(a):\\n    return a + 2")
    >>> 0.5 < sim < 1.0
    True
    >>> cluster(["def f(a): return a", "def f(a): return a", "def f(s): return s[::-1]"], 0.5)
    [0, 0, 1]

Everything is deterministic and pure; ``diversity_penalty`` is what a trainer calls.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|\S")


def tokenize(text: str) -> list[str]:
    """Identifiers, numbers and single punctuation characters (whitespace is dropped)."""
    return _TOKEN.findall(text)


def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def bleu(candidate: Sequence[str], reference: Sequence[str], max_n: int = 4) -> float:
    """Sentence BLEU of token lists: geometric mean of clipped n-gram precisions (n <= max_n,
    add-one smoothing for n > 1 as in Lin & Och 2004) times the brevity penalty. In [0, 1];
    1.0 for identical non-empty sequences; 0.0 when either is empty."""
    if not candidate or not reference:
        return 0.0
    log_p = 0.0
    for n in range(1, max_n + 1):
        cand, ref = _ngrams(candidate, n), _ngrams(reference, n)
        matches = sum(min(c, ref[g]) for g, c in cand.items())
        total = max(len(candidate) - n + 1, 0)
        if n == 1:
            if matches == 0:
                return 0.0
            log_p += math.log(matches / total)
        else:
            log_p += math.log((matches + 1) / (total + 1))
    bp = 1.0 if len(candidate) >= len(reference) else math.exp(1 - len(reference) / len(candidate))
    return bp * math.exp(log_p / max_n)


def _bleu_similarity(a: str, b: str) -> float:
    """Symmetric BLEU: the mean of BLEU(a | b) and BLEU(b | a)."""
    ta, tb = tokenize(a), tokenize(b)
    return 0.5 * (bleu(ta, tb) + bleu(tb, ta))


def _bleu_matrix(texts: Sequence[str], max_n: int = 4) -> list[list[float]]:
    """Pairwise symmetric BLEU, with each text's n-grams counted once (clipped matches are
    symmetric, so one count serves both directions); equal to ``_bleu_similarity``."""
    toks = [tokenize(t) for t in texts]
    grams = [[_ngrams(t, n) for n in range(1, max_n + 1)] for t in toks]
    k = len(texts)
    sim = [[1.0] * k for _ in range(k)]
    for i in range(k):
        for j in range(i + 1, k):
            li, lj = len(toks[i]), len(toks[j])
            if texts[i] == texts[j]:
                sim[i][j] = sim[j][i] = 1.0
                continue
            if not li or not lj:
                sim[i][j] = sim[j][i] = 0.0
                continue
            matches = []
            for n in range(max_n):
                gi, gj = grams[i][n], grams[j][n]
                small, big = (gi, gj) if len(gi) <= len(gj) else (gj, gi)
                matches.append(sum(min(c, big[g]) for g, c in small.items() if g in big))
            if matches[0] == 0:
                sim[i][j] = sim[j][i] = 0.0
                continue

            def one(lc: int, lr: int) -> float:
                log_p = math.log(matches[0] / lc)
                for n in range(1, max_n):
                    log_p += math.log((matches[n] + 1) / (max(lc - n, 0) + 1))
                bp = 1.0 if lc >= lr else math.exp(1 - lr / lc)
                return bp * math.exp(log_p / max_n)

            sim[i][j] = sim[j][i] = 0.5 * (one(li, lj) + one(lj, li))
    return sim


def _jaccard_similarity(a: str, b: str) -> float:
    """Jaccard index of the two token sets (1.0 for two empty texts)."""
    sa, sb = set(tokenize(a)), set(tokenize(b))
    return 1.0 if not sa and not sb else len(sa & sb) / len(sa | sb)


#: Program similarity measures in [0, 1], symmetric, 1 for identical texts.
SIMILARITIES: dict[str, Callable[[str, str], float]] = {
    "bleu": _bleu_similarity,
    "jaccard": _jaccard_similarity,
}


def similarity(name: str, a: str, b: str) -> float:
    """Similarity of two texts by registry name (``SIMILARITIES``)."""
    if name not in SIMILARITIES:
        raise ValueError(f"unknown similarity {name!r}; known: {', '.join(SIMILARITIES)}")
    return SIMILARITIES[name](a, b)


def distance_matrix(texts: Sequence[str], measure: str = "bleu") -> list[list[float]]:
    """B x B matrix of distances 1 - similarity (0 on the diagonal)."""
    n = len(texts)
    if measure == "bleu":
        sim = _bleu_matrix(texts)
        return [[0.0 if i == j else 1.0 - sim[i][j] for j in range(n)] for i in range(n)]
    d = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            d[i][j] = d[j][i] = 1.0 - similarity(measure, texts[i], texts[j])
    return d


def cluster(texts: Sequence[str], threshold: float, measure: str = "bleu", linkage: str = "average") -> list[int]:
    """Agglomerative clustering: merge the closest pair of clusters while their linkage
    distance is <= ``threshold`` (``linkage``: "single", "complete" or "average").

    Returns a cluster label per text, labels numbered by first appearance (0, 1, ...).
    Deterministic: ties merge the lowest-indexed pair first.
    """
    if linkage not in ("single", "complete", "average"):
        raise ValueError(f"unknown linkage {linkage!r}; known: single, complete, average")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a distance in [0, 1], got {threshold}")
    d = distance_matrix(texts, measure)
    members: dict[int, list[int]] = {i: [i] for i in range(len(texts))}
    dist = {(a, b): d[a][b] for a in members for b in members if a < b}  # cluster-pair linkage
    while len(members) > 1:
        (a, b), best = min(dist.items(), key=lambda kv: (kv[1], kv[0]))
        if best > threshold:
            break
        na, nb = len(members[a]), len(members[b])
        for c in members:
            if c in (a, b):
                continue
            dac, dbc = dist[min(a, c), max(a, c)], dist.pop((min(b, c), max(b, c)))
            if linkage == "single":
                new = min(dac, dbc)
            elif linkage == "complete":
                new = max(dac, dbc)
            else:
                new = (na * dac + nb * dbc) / (na + nb)
            dist[min(a, c), max(a, c)] = new
        del dist[a, b]
        members[a] = sorted(members[a] + members.pop(b))
    clusters = list(members.values())
    labels = [0] * len(texts)
    for label, group in enumerate(sorted(clusters, key=min)):
        for i in group:
            labels[i] = label
    return labels


def diversity_penalty(
    texts: Sequence[str],
    *,
    threshold: float = 0.5,
    weight: float = 1.0,
    measure: str = "bleu",
    linkage: str = "average",
) -> list[float]:
    """R-Zero's repetition penalty per text: ``weight * |C(i)| / B`` where ``C(i)`` is the
    cluster of text i among the B texts (clusters at BLEU distance <= ``threshold``).

    Pass only the *valid* proposals of one (task type) batch: invalid ones already get the
    format rewards. A batch of all-distinct texts pays ``weight / B`` each (a constant that
    group-normalised advantages remove); k copies of one program pay ``weight * k / B`` each.
    """
    if weight < 0:
        raise ValueError(f"weight must be >= 0, got {weight}")
    if not texts:
        return []
    labels = cluster(texts, threshold, measure, linkage)
    sizes = Counter(labels)
    return [weight * sizes[label] / len(texts) for label in labels]


def apply_penalty(rewards: Sequence[float], penalties: Sequence[float], floor: float | None = 0.0) -> list[float]:
    """``r - p`` per proposal, never pushed below ``floor`` (R-Zero clips at 0) and never
    raised by the floor: a reward already below it (e.g. AZR's -0.5 for a trivial task) stays.
    ``floor=None`` does not clip."""
    if len(rewards) != len(penalties):
        raise ValueError(f"{len(rewards)} rewards but {len(penalties)} penalties")
    if floor is None:
        return [r - p for r, p in zip(rewards, penalties)]
    return [max(min(r, floor), r - p) for r, p in zip(rewards, penalties)]


def penalise_near_duplicates(
    texts: Sequence[str],
    rewards: Sequence[float],
    valid: Sequence[bool],
    *,
    weight: float,
    threshold: float = 0.5,
    measure: str = "bleu",
    floor: float | None = 0.0,
) -> tuple[list[float], dict[str, float]]:
    """One task type's proposer rewards after the repetition penalty (what a trainer calls).

    Only the ``valid`` proposals are clustered and penalised; the others keep their reward.
    Returns the new rewards and metrics ``diversity/clusters`` (distinct clusters among the
    valid proposals), ``diversity/duplicate_rate`` (share of valid proposals in a cluster of
    two or more) and ``diversity/penalty_mean``.
    """
    if not len(texts) == len(rewards) == len(valid):
        raise ValueError(f"lengths differ: {len(texts)} texts, {len(rewards)} rewards, {len(valid)} flags")
    idx = [i for i, v in enumerate(valid) if v]
    out = [float(r) for r in rewards]
    if not idx or weight == 0:
        return out, {}
    sub = [texts[i] for i in idx]
    labels = cluster(sub, threshold, measure)
    sizes = Counter(labels)
    pens = [weight * sizes[label] / len(sub) for label in labels]
    for i, r in zip(idx, apply_penalty([out[i] for i in idx], pens, floor)):
        out[i] = r
    metrics = {
        "diversity/clusters": float(len(sizes)),
        "diversity/duplicate_rate": sum(sizes[label] > 1 for label in labels) / len(sub),
        "diversity/penalty_mean": sum(pens) / len(pens),
    }
    return out, metrics
