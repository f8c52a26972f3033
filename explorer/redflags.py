"""The statistics behind the red-flag report (REFERENCE.md section 3), as plain functions.

Every test here describes evidence against a baseline, never a verdict: a flag means
"this deviates from what ordinary data looks like, by this much", and the report shows
the counts so an analyst can judge. The SQL that feeds them is in explorer/report.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

BENFORD = {d: math.log10(1 + 1 / d) for d in range(1, 10)}
# Nigrini's first-digit MAD conformity bands.
MAD_BANDS = ((0.006, "close conformity"), (0.012, "acceptable conformity"), (0.015, "marginal conformity"))
NONCONFORMITY = "nonconformity"
# Chi-square critical value for 8 degrees of freedom at p = 0.001. With a few hundred
# awards, sampling noise alone gives MADs in the "marginal" and even "nonconformity"
# bands (measured on seeded data: up to 0.023 at n = 330), so an entity is flagged only
# when its MAD is in the nonconformity band AND the deviation is beyond chance.
CHI2_8DF_P001 = 26.12


def first_digit_shares(counts: Mapping[int, int]) -> dict[int, float]:
    total = sum(counts.get(d, 0) for d in range(1, 10))
    return {d: (counts.get(d, 0) / total if total else 0.0) for d in range(1, 10)}


def benford_mad(counts: Mapping[int, int]) -> float:
    """Mean absolute deviation of the first-digit shares from Benford's law."""
    shares = first_digit_shares(counts)
    return sum(abs(shares[d] - BENFORD[d]) for d in range(1, 10)) / 9


def mad_band(mad: float) -> str:
    for limit, label in MAD_BANDS:
        if mad < limit:
            return label
    return NONCONFORMITY


def benford_chi2(counts: Mapping[int, int]) -> float:
    total = sum(counts.get(d, 0) for d in range(1, 10))
    if not total:
        return 0.0
    return sum((counts.get(d, 0) - total * p) ** 2 / (total * p) for d, p in BENFORD.items())


def benford_flag(counts: Mapping[int, int]) -> bool:
    return mad_band(benford_mad(counts)) == NONCONFORMITY and benford_chi2(counts) > CHI2_8DF_P001


def binomial_tail(successes: int, trials: int, p: float) -> float:
    """P(X >= successes) for X ~ Binomial(trials, p), summed in log space (exact)."""
    if successes <= 0:
        return 1.0
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(trials + 1)
        - math.lgamma(k + 1)
        - math.lgamma(trials - k + 1)
        + k * log_p
        + (trials - k) * log_q
        for k in range(successes, trials + 1)
    ]
    peak = max(terms)
    return min(1.0, math.exp(peak) * sum(math.exp(t - peak) for t in terms))


def hhi(amounts: list[float]) -> float:
    """Herfindahl-Hirschman index of the shares, 0-10,000 (10,000: one supplier takes all)."""
    total = sum(amounts)
    if total <= 0:
        return 0.0
    return sum((a / total * 100) ** 2 for a in amounts)
