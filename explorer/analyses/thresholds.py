"""Amounts bunched just below procurement thresholds (REPORT_THRESHOLDS).

Two scopes. The selection: the density of log10(amount) in bins of BIN decades within
SPAN bins each side of the threshold, a polynomial fitted to the counts outside the
windows around every threshold (redflags.bunching), and the excess of awards in
[t - 10 %, t) over that fitted counterfactual, tested. The baseline does not come from
the window itself, so a selection that bunches as a whole is flagged as a whole. The
entities: their share just below against the share the fitted density gives the two
windows (or, when the selection is too small to fit, the share among all its awards).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, TypedDict

from django.conf import settings
from django.db.models import Count, F, FloatField, Func, Q, QuerySet
from django.db.models.functions import Cast, Floor

from explorer import redflags
from explorer.analyses.base import Analysis, Finding, SearchLink, Sheet
from explorer.models import Award

WINDOW = Decimal("0.1")  # compare [t - 10 %, t) with [t, t + 10 %), exactly
MIN_AWARDS = 10  # per entity, inside the two windows
P_VALUE = 1e-4  # one-sided binomial tail against the baseline share below
LISTED = 25
# The selection's test (module docstring): bins of 0.02 decades (4.7 %), 20 each side
# (a factor 2.5), the three bins each side of every threshold left out of the fit.
BIN = 0.02
SPAN = 20
EXCLUDED = 3
DEGREE = 4
MIN_FIT_AWARDS = 200  # awards in the fitted bins
SELECTION_LOG10_P = -4.0  # flagged at p < 1e-4 ...
MIN_RATIO = 0.2  # ... and an excess of at least 20 % over the fitted count


class EntityRow(TypedDict):
    kind: str  # "supplier" or "organization": also the search filter of its name
    name: str
    below: int
    above: int
    p: float
    flag: bool


class Bunching(TypedDict, total=False):
    tested: bool
    reason: str  # why it was not tested
    observed: int
    expected: float
    observed_above: int
    expected_above: float
    excess: float
    ratio: float
    z: float
    log10_p: float
    share_below: float
    residual_sd: float
    fitted_awards: int
    flag: bool
    bins: list[list[Any]]  # [low, high, awards, fitted or None]


class Threshold(TypedDict):
    threshold: int
    window: float
    low: float
    high: float
    below: int
    above: int
    baseline_share_below: float
    baseline: str  # where the entities' baseline share comes from
    bunching: Bunching
    flagged: int
    entities: list[EntityRow]


class _Log10(Func):
    function = "LOG"  # base 10 on double precision
    output_field = FloatField()


def _bins(awards: QuerySet[Award], threshold: int) -> dict[int, int]:
    """Awards per log bin around the threshold (bin 0 starts at it)."""
    low, high = threshold * 10 ** (-SPAN * BIN), threshold * 10 ** (SPAN * BIN)
    log_t = math.log10(threshold)
    rows = (
        awards.filter(amount__gte=low, amount__lt=high)
        .annotate(bin=Floor((_Log10(Cast("amount", FloatField())) - log_t) / BIN))
        .values("bin")
        .annotate(n=Count("id"))
        .values_list("bin", "n")
    )
    return {int(k): n for k, n in rows if -SPAN <= k < SPAN}


def _excluded(threshold: int) -> set[int]:
    """The bins near any threshold (their own bunching must not shape the fit)."""
    excluded: set[int] = set()
    for other in settings.REPORT_THRESHOLDS:
        centre = math.log10(other / threshold) / BIN
        excluded |= {k for k in range(-SPAN, SPAN) if centre - EXCLUDED <= k < centre + EXCLUDED}
    return excluded


def _bunching(awards: QuerySet[Award], threshold: int, below: int, above: int) -> Bunching:
    bins = _bins(awards, threshold)
    excluded = _excluded(threshold)
    fitted_awards = sum(n for k, n in bins.items() if k not in excluded)
    if fitted_awards < MIN_FIT_AWARDS:
        return {
            "tested": False,
            "reason": f"{fitted_awards} awards in the fitted range, fewer than {MIN_FIT_AWARDS}",
            "fitted_awards": fitted_awards,
            "flag": False,
            "bins": [],
        }
    window = (math.log10(1 - float(WINDOW)) / BIN, 0.0)
    window_above = (0.0, math.log10(1 + float(WINDOW)) / BIN)
    try:
        result = redflags.bunching(
            bins, span=SPAN, excluded=excluded, degree=DEGREE, below=window, above=window_above,
            observed_below=below, observed_above=above,
        )  # fmt: skip
        coefficients, *_ = redflags.polyfit(
            [(k + 0.5) / SPAN for k in range(-SPAN, SPAN) if k not in excluded],
            [float(bins.get(k, 0)) for k in range(-SPAN, SPAN) if k not in excluded],
            DEGREE,
        )
    except ValueError as exc:
        return {
            "tested": False,
            "reason": str(exc),
            "fitted_awards": fitted_awards,
            "flag": False,
            "bins": [],
        }
    table = [
        [
            threshold * 10 ** (k * BIN),
            threshold * 10 ** ((k + 1) * BIN),
            bins.get(k, 0),
            max(0.0, redflags.poly(coefficients, (k + 0.5) / SPAN)),
            k in excluded,
        ]
        for k in range(-SPAN, SPAN)
    ]
    return {
        "tested": True,
        **result,  # type: ignore[typeddict-item]
        "observed": below,
        "observed_above": above,
        "fitted_awards": fitted_awards,
        "flag": result["log10_p"] < SELECTION_LOG10_P and result["ratio"] >= MIN_RATIO,
        "bins": table,
    }


def _threshold(awards: QuerySet[Award], threshold: int) -> Threshold:
    low = threshold * (1 - WINDOW)
    high = threshold * (1 + WINDOW)
    window = awards.filter(amount__gte=low, amount__lt=high)
    split = {
        "below": Count("id", filter=Q(amount__lt=threshold)),
        "above": Count("id", filter=Q(amount__gte=threshold)),
    }
    overall = window.aggregate(**split)
    n = overall["below"] + overall["above"]
    bunching = _bunching(awards, threshold, overall["below"], overall["above"])
    if bunching["tested"]:
        baseline = bunching["share_below"]
        described = (
            f"the share below ({baseline:.2f}) that the selection's smooth amount density, fitted "
            f"outside the windows, gives the two windows"
        )
    else:
        baseline = overall["below"] / n if n else 0.5
        described = f"the share just below among all awards of the selection ({baseline:.2f})"
    entities: list[EntityRow] = []
    for kind, field in (("supplier", "supplier__name"), ("organization", "organization__name")):
        rows = (
            window.exclude(**{f"{field}__isnull": True})
            .values(field)
            .annotate(**split)
            .annotate(total=F("below") + F("above"))
            .filter(total__gte=MIN_AWARDS, below__gt=F("above"))
            .values_list(field, "below", "above")
        )
        for name, below, above in rows:
            p = redflags.binomial_tail(below, below + above, baseline)
            entities.append(
                {"kind": kind, "name": name, "below": below, "above": above, "p": p, "flag": p < P_VALUE}
            )
    entities.sort(key=lambda row: (not row["flag"], row["p"], -row["below"]))
    return {
        "threshold": threshold,
        "window": float(WINDOW),
        "low": float(low),
        "high": float(high),
        "below": overall["below"],
        "above": overall["above"],
        "baseline_share_below": baseline,
        "baseline": described,
        "bunching": bunching,
        "flagged": sum(row["flag"] for row in entities),
        "entities": entities[: max(LISTED, sum(row["flag"] for row in entities))],  # every flagged one
    }


def _band(threshold: Threshold, *, below_only: bool) -> dict[str, str]:
    """The search filters of the awards in the two windows (or just below)."""
    high = threshold["threshold"] - 0.01 if below_only else threshold["high"]
    return {"amount_min": f"{threshold['low']:.2f}", "amount_max": f"{high:.2f}"}


class Thresholds(Analysis):
    name = "thresholds"
    label = "Threshold clustering"
    template = "explorer/analyses/thresholds.html"
    flag_label = "threshold"

    def compute(self, awards: QuerySet[Award]) -> list[Threshold]:
        return [_threshold(awards, t) for t in settings.REPORT_THRESHOLDS]

    def flagged(self, payload: list[Threshold]) -> int:
        return sum(t["flagged"] for t in payload)

    def findings(self, payload: list[Threshold]) -> list[Finding]:
        selection: list[Finding] = [
            {
                "analysis": self.name,
                "scope": "selection",
                "name": f"All awards just below PHP {t['threshold']:,}",
                "statistic": f"{b['observed']:,} awards in [{t['low']:,.0f}, {t['threshold']:,}) where "
                f"the smooth density gives {b['expected']:,.0f} ({b['ratio']:+.0%}); "
                f"{b['observed_above']:,} just above where it gives {b['expected_above']:,.0f}; "
                f"z = {b['z']:.1f}",
                "strength": redflags.strength(b["log10_p"]),
                "evidence": {
                    k: b[k]
                    for k in (
                        "observed",
                        "expected",
                        "observed_above",
                        "expected_above",
                        "excess",
                        "ratio",
                        "z",
                        "log10_p",
                        "fitted_awards",
                    )
                },
                "baseline": f"a degree-{DEGREE} polynomial fitted to the counts of log10(amount) in "
                f"bins of {BIN} decades from {t['threshold'] * 10 ** (-SPAN * BIN):,.0f} to "
                f"{t['threshold'] * 10 ** (SPAN * BIN):,.0f}, leaving out {EXCLUDED} bins each side of "
                "every threshold; z-test of the excess, flagged at p < 0.0001 and 20 % or more",
                "filters": _band(t, below_only=True),
            }
            for t in payload
            if (b := t["bunching"])["flag"]
        ]
        entities: list[Finding] = [
            {
                "analysis": self.name,
                "scope": e["kind"],  # type: ignore[typeddict-item]  # "organization" or "supplier", as Scope allows
                "name": e["name"],
                "statistic": f"{e['below']} awards just below PHP {t['threshold']:,}, "
                f"{e['above']} just above (p = {e['p']:.1e})",
                "strength": redflags.strength(_log10(e["p"])),
                "evidence": {
                    "threshold": t["threshold"],
                    "below": e["below"],
                    "above": e["above"],
                    "p": e["p"],
                },
                "baseline": f"{t['baseline']}; one-sided binomial test, p < 0.0001",
                "filters": {e["kind"]: e["name"], **_band(t, below_only=False)},
            }
            for t in payload
            for e in t["entities"]
            if e["flag"]
        ]
        return selection + entities

    def sheets(self, payload: list[Threshold]) -> list[Sheet]:
        rows = []
        for t in payload:
            b = t["bunching"]
            fitted = [b.get("expected", ""), b.get("expected_above", ""), b.get("z", "")]
            flag = "yes" if b["flag"] else ""
            rows.append([t["threshold"], "all awards", "", t["below"], t["above"], "", flag, *fitted])
            rows += [
                [
                    t["threshold"],
                    e["kind"],
                    e["name"],
                    e["below"],
                    e["above"],
                    e["p"],
                    "yes" if e["flag"] else "",
                ]
                for e in t["entities"]
            ]
        headers = [
            "Threshold (PHP)", "Kind", "Name", "Just below", "Just above", "p-value", "Flagged",
            "Fitted below", "Fitted above", "z",
        ]  # fmt: skip
        return [Sheet("Thresholds", headers, rows)]

    def page(self, payload: list[Threshold], search: SearchLink) -> dict[str, Any]:
        return {
            "window": WINDOW,
            "bin": BIN,
            "span": SPAN,
            "degree": DEGREE,
            "excluded": EXCLUDED,
            "thresholds": [
                t
                | {
                    "chart": _chart(t.get("bunching") or {}),  # none in reports from before v2
                    "chart_id": f"bunching-{t['threshold']}",
                    "url": search(**_band(t, below_only=True)),
                    "rows": [
                        e | {"url": search(**{e["kind"]: e["name"]}, **_band(t, below_only=False))}
                        for e in t["entities"]
                    ],
                }
                for t in payload
            ],
        }


def _log10(p: float) -> float:
    return math.log10(p) if p > 0 else -300.0


def _chart(bunching: Bunching) -> dict[str, Any] | None:
    """Awards per log bin against the fitted smooth density (None when not tested)."""
    if not bunching.get("bins"):
        return None
    return {
        "labels": [f"{low / 1e6:,.1f}M" for low, *_ in bunching["bins"]],
        "format": "count",
        "series": [
            {"label": "Awards", "values": [n for _, _, n, _, _ in bunching["bins"]]},
            {
                "label": "Smooth density (fitted)",
                "values": [round(f, 1) for _, _, _, f, _ in bunching["bins"]],
            },
        ],
    }
