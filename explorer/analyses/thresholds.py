"""Amounts bunched just below procurement thresholds (REPORT_THRESHOLDS)."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, TypedDict

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet

from explorer import redflags
from explorer.analyses.base import Analysis, Finding, SearchLink, Sheet
from explorer.models import Award

WINDOW = Decimal("0.1")  # compare [t - 10 %, t) with [t, t + 10 %), exactly
MIN_AWARDS = 10  # per entity, inside the two windows
P_VALUE = 1e-4  # one-sided binomial tail against the all-awards share below
LISTED = 25


class EntityRow(TypedDict):
    kind: str  # "supplier" or "organization": also the search filter of its name
    name: str
    below: int
    above: int
    p: float
    flag: bool


class Threshold(TypedDict):
    threshold: int
    window: float
    low: float
    high: float
    below: int
    above: int
    baseline_share_below: float
    flagged: int
    entities: list[EntityRow]


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
    baseline = overall["below"] / n if n else 0.5
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
        "flagged": sum(row["flag"] for row in entities),
        "entities": entities[:LISTED],
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
        return [
            {
                "analysis": self.name,
                "scope": e["kind"],  # type: ignore[typeddict-item]  # "organization" or "supplier", as Scope allows
                "name": e["name"],
                "statistic": f"{e['below']} awards just below PHP {t['threshold']:,}, "
                f"{e['above']} just above (p = {e['p']:.1e})",
                "strength": -_log10(e["p"]),
                "evidence": {
                    "threshold": t["threshold"],
                    "below": e["below"],
                    "above": e["above"],
                    "p": e["p"],
                },
                "baseline": f"the share just below among all awards of the selection "
                f"({t['baseline_share_below']:.2f}), one-sided binomial test",
                "filters": {e["kind"]: e["name"], **_band(t, below_only=False)},
            }
            for t in payload
            for e in t["entities"]
            if e["flag"]
        ]

    def sheets(self, payload: list[Threshold]) -> list[Sheet]:
        rows = []
        for t in payload:
            rows.append([t["threshold"], "all awards", "", t["below"], t["above"], "", ""])
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
        headers = ["Threshold (PHP)", "Kind", "Name", "Just below", "Just above", "p-value", "Flagged"]
        return [Sheet("Thresholds", headers, rows)]

    def page(self, payload: list[Threshold], search: SearchLink) -> dict[str, Any]:
        return {
            "window": WINDOW,
            "thresholds": [
                t
                | {
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
