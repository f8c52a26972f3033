"""First digits of the amounts against Benford's law, overall and per procuring entity."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, TypedDict

from django.db.models import CharField, Count, QuerySet
from django.db.models.functions import Cast, Floor, Left

from explorer import redflags
from explorer.analyses.base import Analysis, Finding, SearchLink, Sheet
from explorer.models import Award, Organization

MIN_AWARDS = 300  # per entity; fewer awards say little about digit frequencies
LISTED = 25  # entities listed (flagged ones first)
DIGITS = [str(d) for d in range(1, 10)]


class DigitRow(TypedDict):
    awards: int
    counts: dict[str, int]
    shares: dict[str, float]
    mad: float
    band: str
    chi2: float
    log10_p: float  # the chi-square test's p-value (8 degrees of freedom), as log10
    flag: bool


class EntityRow(DigitRow):
    name: str


class Benford(TypedDict):
    expected: dict[str, float]
    overall: DigitRow
    min_awards: int
    tested: int
    flagged: int
    entities: list[EntityRow]


def _first_digit() -> Any:
    # Amounts under 10 are left out (Nigrini): they carry no real first-digit information.
    return Left(Cast(Floor("amount"), CharField()), 1)


def _row(counts: dict[int, int]) -> DigitRow:
    mad = redflags.benford_mad(counts)
    return {
        "awards": sum(counts.values()),
        "counts": {str(d): counts.get(d, 0) for d in range(1, 10)},
        "shares": {str(d): share for d, share in redflags.first_digit_shares(counts).items()},
        "mad": mad,
        "band": redflags.mad_band(mad),
        "chi2": redflags.benford_chi2(counts),
        "log10_p": redflags.chi2_log10_sf_even(redflags.benford_chi2(counts), 8),
        "flag": redflags.benford_flag(counts),
    }


class FirstDigits(Analysis):
    name = "benford"
    label = "Benford first-digit test"
    template = "explorer/analyses/benford.html"
    flag_label = "first-digit"

    def compute(self, awards: QuerySet[Award]) -> Benford:
        # One pass: digit counts per entity; the selection's are their sums.
        digits = awards.filter(amount__gte=10).annotate(digit=_first_digit())
        by_entity: dict[int, dict[int, int]] = defaultdict(dict)
        overall: dict[int, int] = defaultdict(int)
        for entity, digit, n in (
            digits.values("organization_id", "digit")
            .annotate(n=Count("id"))
            .values_list("organization_id", "digit", "n")
        ):
            by_entity[entity][int(digit)] = n
            overall[int(digit)] += n
        eligible = {e: counts for e, counts in by_entity.items() if sum(counts.values()) >= MIN_AWARDS}
        names = dict(Organization.objects.filter(pk__in=eligible).values_list("pk", "name"))
        per_entity = {names[e]: counts for e, counts in eligible.items()}
        entities: list[EntityRow] = [_row(counts) | {"name": name} for name, counts in per_entity.items()]  # type: ignore[misc]
        entities.sort(key=lambda row: (not row["flag"], -row["mad"]))
        return {
            "expected": {str(d): p for d, p in redflags.BENFORD.items()},
            "overall": _row(overall),
            "min_awards": MIN_AWARDS,
            "tested": len(entities),
            "flagged": sum(row["flag"] for row in entities),
            "entities": entities[: max(LISTED, sum(row["flag"] for row in entities))],  # every flagged one
        }

    def flagged(self, payload: Benford) -> int:
        return payload["flagged"]

    def findings(self, payload: Benford) -> list[Finding]:
        overall = payload["overall"]
        selection = [(None, overall)] if overall["flag"] else []
        return [
            {
                "analysis": self.name,
                "scope": "organization" if name else "selection",
                "name": name or "All awards of the selection",
                "statistic": f"MAD {row['mad']:.4f} ({row['band']}), chi-square {row['chi2']:.1f} "
                f"(p = {_p_text(row['log10_p'])}) over {row['awards']:,} awards; "
                f"most over-represented: {_excess_digits(row)}",
                "strength": redflags.strength(row["log10_p"]),
                "evidence": {
                    "awards": row["awards"],
                    "counts": row["counts"],
                    "shares": row["shares"],
                    "expected": {str(d): p for d, p in redflags.BENFORD.items()},
                    "mad": row["mad"],
                    "chi2": row["chi2"],
                    "log10_p": row["log10_p"],
                },
                "baseline": "Benford's law for first digits; flagged when the MAD is in Nigrini's "
                "nonconformity band (above 0.015) and the chi-square test (8 degrees of freedom) "
                "gives p < 0.001",
                "filters": {"organization": name} if name else {},
            }
            for name, row in [*selection, *((r["name"], r) for r in payload["entities"])]
            if row["flag"]
        ]

    def sheets(self, payload: Benford) -> list[Sheet]:
        expected = [
            "All awards (expected share)",
            "",
            "",
            "",
            "",
            "",
            *[payload["expected"][d] for d in DIGITS],
        ]
        overall = _sheet_row("All awards", payload["overall"])
        return [
            Sheet(
                "Benford",
                [
                    "Entity",
                    "Awards",
                    "MAD",
                    "Conformity",
                    "Chi-square",
                    "Flagged",
                    *[f"Share {d}" for d in DIGITS],
                ],
                [expected, overall, *[_sheet_row(row["name"], row) for row in payload["entities"]]],
            )
        ]

    def page(self, payload: Benford, search: SearchLink) -> dict[str, Any]:
        flagged = [row for row in payload["entities"] if row["flag"]]
        return {
            "data": payload,
            "rows": [row | {"url": search(organization=row["name"])} for row in payload["entities"]],
            "chart": {
                "labels": DIGITS,
                "format": "percent",
                "series": [
                    {"label": "Benford's law", "values": [payload["expected"][d] for d in DIGITS]},
                    {"label": "All awards", "values": [payload["overall"]["shares"][d] for d in DIGITS]},
                    *[
                        {"label": row["name"], "values": [row["shares"][d] for d in DIGITS]}
                        for row in flagged[:3]
                    ],
                ],
            },
        }


def _sheet_row(name: str, row: DigitRow) -> list[Any]:
    return [
        name, row["awards"], row["mad"], row["band"], row["chi2"], "yes" if row["flag"] else "",
        *[row["shares"][d] for d in DIGITS],
    ]  # fmt: skip


def _p_text(log10_p: float) -> str:
    return f"{10**log10_p:.1e}" if log10_p > -300 else f"1e{log10_p:.0f}"


def _excess_digits(row: DigitRow) -> str:
    """The digits most above Benford's share, e.g. "4 (19.0 % vs 9.7 %)"."""
    excess = sorted(DIGITS, key=lambda d: redflags.BENFORD[int(d)] - row["shares"][d])[:2]
    return ", ".join(
        f"{d} ({row['shares'][d]:.1%} vs {redflags.BENFORD[int(d)]:.1%})"
        for d in excess
        if row["shares"][d] > redflags.BENFORD[int(d)]
    )
