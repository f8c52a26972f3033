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


def chi2_sf_even(statistic: float, df: int) -> float:
    """P(X >= statistic) for X ~ chi-square with an even number of degrees of freedom
    (closed form: a Poisson tail), e.g. Benford's 8."""
    if df <= 0 or df % 2:
        raise ValueError("df must be a positive even number")
    if statistic <= 0:
        return 1.0
    half = statistic / 2
    term, total = 1.0, 1.0
    for i in range(1, df // 2):
        term *= half / i
        total += term
    return min(1.0, math.exp(-half) * total)


def benford_p(counts: Mapping[int, int]) -> float:
    """The chi-square test's p-value against Benford's law (8 degrees of freedom)."""
    return chi2_sf_even(benford_chi2(counts), 8)


def chi2_log10_sf_even(statistic: float, df: int) -> float:
    """log10 of chi2_sf_even, without underflow (a chi-square of 5,000 has p = 1e-1080)."""
    if statistic <= 0:
        return 0.0
    half = statistic / 2
    log_terms = [i * math.log(half) - math.lgamma(i + 1) for i in range(df // 2)]
    peak = max(log_terms)
    log_sf = -half + peak + math.log(sum(math.exp(t - peak) for t in log_terms))
    return min(0.0, log_sf / math.log(10))


def strength(log10_p: float) -> float:
    """A finding's strength from its p-value: -log10 p, capped at 300 (findings of
    different tests are ordered by it)."""
    return min(300.0, max(0.0, -log10_p))


def normal_sf(z: float) -> float:
    """P(Z >= z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def polyfit(xs: list[float], ys: list[float], degree: int) -> tuple[list[float], list[list[float]], float]:
    """Least-squares polynomial fit: (coefficients from the constant up, (X'X)^-1, the
    residual variance). Pure Python: a few dozen points and a degree of 3 to 5."""
    n, k = len(xs), degree + 1
    if n <= k:
        raise ValueError("need more points than coefficients")
    rows = [[x**j for j in range(k)] for x in xs]
    xtx = [[sum(r[i] * r[j] for r in rows) for j in range(k)] for i in range(k)]
    inverse = _invert(xtx)
    xty = [sum(r[i] * y for r, y in zip(rows, ys, strict=True)) for i in range(k)]
    coefficients = [sum(inverse[i][j] * xty[j] for j in range(k)) for i in range(k)]
    residuals = [y - poly(coefficients, x) for x, y in zip(xs, ys, strict=True)]
    return coefficients, inverse, sum(r * r for r in residuals) / (n - k)


def poly(coefficients: list[float], x: float) -> float:
    return sum(c * x**j for j, c in enumerate(coefficients))


def _invert(matrix: list[list[float]]) -> list[list[float]]:
    """Gauss-Jordan with partial pivoting."""
    size = len(matrix)
    work = [[*row, *(1.0 if i == j else 0.0 for j in range(size))] for i, row in enumerate(matrix)]
    for column in range(size):
        pivot = max(range(column, size), key=lambda r: abs(work[r][column]))
        if abs(work[pivot][column]) < 1e-12:
            raise ValueError("singular matrix")
        work[column], work[pivot] = work[pivot], work[column]
        scale = work[column][column]
        work[column] = [v / scale for v in work[column]]
        for r in range(size):
            if r != column and work[r][column]:
                factor = work[r][column]
                work[r] = [a - factor * b for a, b in zip(work[r], work[column], strict=True)]
    return [row[size:] for row in work]


def upper_fence(values: list[float]) -> dict[str, float]:
    """Quartiles and Tukey's upper fence (Q3 + 1.5 IQR) of `values` (linear interpolation)."""
    ordered = sorted(values)

    def quantile(q: float) -> float:
        if not ordered:
            return 0.0
        position = q * (len(ordered) - 1)
        low = math.floor(position)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    q1, median, q3 = quantile(0.25), quantile(0.5), quantile(0.75)
    return {"q1": q1, "median": median, "q3": q3, "fence": q3 + 1.5 * (q3 - q1), "n": len(ordered)}


def log10_normal_sf(z: float) -> float:
    """log10 P(Z >= z), with the asymptotic tail past z = 30 (where erfc underflows)."""
    if z < 30:
        return math.log10(max(normal_sf(z), 1e-300))
    return (-z * z / 2 - math.log(z * math.sqrt(2 * math.pi))) / math.log(10)


def bunching(
    bins: Mapping[int, int],
    *,
    span: int,
    excluded: set[int],
    degree: int,
    below: tuple[float, float],
    above: tuple[float, float],
    observed_below: int,
    observed_above: int,
) -> dict[str, float]:
    """Excess mass in a window against a smooth density fitted outside it (Chetty et al.
    2011, Kleven 2016): a polynomial of `degree` fitted to the counts of the bins -span ..
    span-1 that are not `excluded`; `below` and `above` are the windows just below and
    above the threshold in bin units (the threshold at 0). The excess is tested with a
    z-test: observed minus fitted, over the Poisson variance (or the fit's residual
    variance when larger) plus the fit's own variance. Raises ValueError if it cannot fit."""
    xs = [(k + 0.5) / span for k in range(-span, span) if k not in excluded]
    ys = [float(bins.get(k, 0)) for k in range(-span, span) if k not in excluded]
    coefficients, inverse, residual = polyfit(xs, ys, degree)

    def integral(window: tuple[float, float]) -> tuple[float, list[float]]:
        x0, x1 = window[0] / span, window[1] / span
        a = [span * (x1 ** (j + 1) - x0 ** (j + 1)) / (j + 1) for j in range(degree + 1)]
        return sum(c * w for c, w in zip(coefficients, a, strict=True)), a

    expected_below, a = integral(below)
    expected_above, _ = integral(above)
    fit_variance = residual * sum(a[i] * inverse[i][j] * a[j] for i in range(len(a)) for j in range(len(a)))
    width = below[1] - below[0]
    floor = max(expected_below, 1.0)  # a fit near zero: test against one award
    variance = max(floor, residual * width) + fit_variance
    z = (observed_below - floor) / math.sqrt(variance)
    return {
        "observed": observed_below,
        "expected": expected_below,
        "observed_above": observed_above,
        "expected_above": expected_above,
        "excess": observed_below - expected_below,
        "ratio": (observed_below - floor) / floor,
        "z": z,
        "log10_p": log10_normal_sf(z),
        "share_below": expected_below / (expected_below + expected_above)
        if expected_below > 0 and expected_above > 0
        else 0.5,
        "residual_sd": math.sqrt(residual),
    }
