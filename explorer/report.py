"""The aggregate report with red flags, computed in the database.

`build()` runs one aggregate query per step over the awards of a search and returns a
JSON-ready dict (stored as the job's result, rendered by the report page and written to
xlsx by jobs/reports.py). Python only handles per-entity rows that are already grouped.
Flags follow explorer/redflags.py: evidence with its baseline, never a verdict.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import CharField, Count, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Cast, ExtractMonth, ExtractYear, Floor, Left, Mod

from explorer import redflags
from explorer.models import Award

TOP = 20
BENFORD_MIN_AWARDS = 300  # per entity; fewer awards say little about digit frequencies
CONCENTRATION_MIN_AWARDS = 20
CONCENTRATION_SPEND_SHARE = 0.6  # flag: one supplier takes this share of the spend ...
CONCENTRATION_COUNT_SHARE = 0.5  # ... AND this share of the awards (repeat awards)
THRESHOLD_WINDOW = Decimal("0.1")  # compare [t - 10 %, t) with [t, t + 10 %), exactly
THRESHOLD_MIN_AWARDS = 10  # per entity, inside the two windows
THRESHOLD_P = 1e-4  # one-sided binomial tail against the all-awards share below
ROUNDING_UNITS = (1_000, 10_000, 100_000, 1_000_000)
LISTED = 25  # entities listed per analysis (flagged ones first)

STEPS = (
    "Totals by month",
    "Top organizations, suppliers, categories, areas and modes",
    "Benford first-digit test",
    "Threshold clustering",
    "Rounding and last digits",
    "Supplier concentration",
)


def build(
    awards: QuerySet[Award], *, step: Callable[[int, str], None] = lambda i, label: None
) -> dict[str, Any]:
    base = awards.order_by()
    report: dict[str, Any] = {}
    step(0, STEPS[0])
    totals = base.aggregate(n=Count("id"), amount=Sum("amount"))
    report["awards"] = totals["n"]
    report["amount"] = _num(totals["amount"])
    report["by_month"] = [
        [year, month, n, _num(amount)]
        for year, month, n, amount in base.exclude(award_date__isnull=True)
        .annotate(year=ExtractYear("award_date"), month=ExtractMonth("award_date"))
        .values("year", "month")
        .annotate(n=Count("id"), amount=Sum("amount"))
        .order_by("year", "month")
        .values_list("year", "month", "n", "amount")
    ]
    step(1, STEPS[1])
    report["top"] = {
        key: _top(base, expression)
        for key, expression in (
            ("organizations", F("organization__name")),
            ("suppliers", F("supplier__name")),
            ("categories", F("category__name")),
            ("areas", F("area__name")),
            ("modes", F("procurement_mode")),
        )
    }
    step(2, STEPS[2])
    report["benford"] = _benford(base)
    step(3, STEPS[3])
    report["thresholds"] = [_threshold(base, t) for t in settings.REPORT_THRESHOLDS]
    step(4, STEPS[4])
    report["rounding"] = _rounding(base)
    step(5, STEPS[5])
    report["concentration"] = _concentration(base)
    return report


def _num(value: Decimal | None) -> float:
    return float(value) if value is not None else 0.0


def _top(base: QuerySet[Award], expression: Any) -> list[list[Any]]:
    rows = (
        base.annotate(value=expression)
        .exclude(value__isnull=True)
        .exclude(value="")
        .values("value")
        .annotate(n=Count("id"), amount=Sum("amount"))
        .order_by(F("amount").desc(nulls_last=True), "value")
        .values_list("value", "n", "amount")[:TOP]
    )
    return [[value, n, _num(amount)] for value, n, amount in rows]


def _first_digit() -> Any:
    # Amounts under 10 are left out (Nigrini): they carry no real first-digit information.
    return Left(Cast(Floor("amount"), CharField()), 1)


def _benford(base: QuerySet[Award]) -> dict[str, Any]:
    digits = base.filter(amount__gte=10).annotate(digit=_first_digit())
    overall = {int(d): n for d, n in digits.values("digit").annotate(n=Count("id")).values_list("digit", "n")}
    eligible = (
        base.filter(amount__gte=10)
        .values("organization_id")
        .annotate(n=Count("id"))
        .filter(n__gte=BENFORD_MIN_AWARDS)
        .values("organization_id")
    )
    per_entity: dict[str, dict[int, int]] = defaultdict(dict)
    for name, digit, n in (
        digits.filter(organization_id__in=eligible)
        .values("organization__name", "digit")
        .annotate(n=Count("id"))
        .values_list("organization__name", "digit", "n")
    ):
        per_entity[name][int(digit)] = n
    entities = [_benford_row(counts) | {"name": name} for name, counts in per_entity.items()]
    entities.sort(key=lambda row: (not row["flag"], -row["mad"]))
    return {
        "expected": {str(d): p for d, p in redflags.BENFORD.items()},
        "overall": _benford_row(overall),
        "min_awards": BENFORD_MIN_AWARDS,
        "tested": len(entities),
        "flagged": sum(row["flag"] for row in entities),
        "entities": entities[:LISTED],
    }


def _benford_row(counts: dict[int, int]) -> dict[str, Any]:
    mad = redflags.benford_mad(counts)
    return {
        "awards": sum(counts.values()),
        "counts": {str(d): counts.get(d, 0) for d in range(1, 10)},
        "shares": {str(d): share for d, share in redflags.first_digit_shares(counts).items()},
        "mad": mad,
        "band": redflags.mad_band(mad),
        "chi2": redflags.benford_chi2(counts),
        "flag": redflags.benford_flag(counts),
    }


def _threshold(base: QuerySet[Award], threshold: int) -> dict[str, Any]:
    low = threshold * (1 - THRESHOLD_WINDOW)
    high = threshold * (1 + THRESHOLD_WINDOW)
    window = base.filter(amount__gte=low, amount__lt=high)
    split = {
        "below": Count("id", filter=Q(amount__lt=threshold)),
        "above": Count("id", filter=Q(amount__gte=threshold)),
    }
    overall = window.aggregate(**split)
    n = overall["below"] + overall["above"]
    baseline = overall["below"] / n if n else 0.5
    entities = []
    for kind, field in (("supplier", "supplier__name"), ("organization", "organization__name")):
        rows = (
            window.exclude(**{f"{field}__isnull": True})
            .values(field)
            .annotate(**split)
            .annotate(total=F("below") + F("above"))
            .filter(total__gte=THRESHOLD_MIN_AWARDS, below__gt=F("above"))
            .values_list(field, "below", "above")
        )
        for name, below, above in rows:
            p = redflags.binomial_tail(below, below + above, baseline)
            entities.append(
                {"kind": kind, "name": name, "below": below, "above": above, "p": p, "flag": p < THRESHOLD_P}
            )
    entities.sort(key=lambda row: (not row["flag"], row["p"], -row["below"]))
    return {
        "threshold": threshold,
        "window": float(THRESHOLD_WINDOW),
        "low": float(low),
        "high": float(high),
        "below": overall["below"],
        "above": overall["above"],
        "baseline_share_below": baseline,
        "flagged": sum(row["flag"] for row in entities),
        "entities": entities[:LISTED],
    }


def _rounding(base: QuerySet[Award]) -> dict[str, Any]:
    annotated = base.filter(amount__gte=1).annotate(
        **{f"mod{unit}": Mod("amount", Value(unit)) for unit in ROUNDING_UNITS}
    )
    counts = annotated.aggregate(
        total=Count("id"),
        **{f"m{unit}": Count("id", filter=Q(**{f"mod{unit}": 0})) for unit in ROUNDING_UNITS},
    )
    total = counts["total"]
    last = {
        int(digit): n
        for digit, n in base.filter(amount__gte=10)
        .annotate(digit=Mod(Floor("amount"), Value(10)))
        .values("digit")
        .annotate(n=Count("id"))
        .values_list("digit", "n")
    }
    return {
        "total": total,
        "multiples": [
            {"unit": unit, "count": counts[f"m{unit}"], "share": counts[f"m{unit}"] / total if total else 0.0}
            for unit in ROUNDING_UNITS
        ],
        "last_digit": [[d, last.get(d, 0)] for d in range(10)],
    }


# One row per entity with its top supplier.
CONCENTRATION_SQL = """
WITH pairs AS (
    SELECT organization_id AS org, supplier_id AS supplier, COUNT(*) AS n,
           CAST(COALESCE(SUM(amount), 0) AS DOUBLE PRECISION) AS amount
    FROM ({awards}) AS awards
    WHERE supplier_id IS NOT NULL
    GROUP BY organization_id, supplier_id
), ranked AS (
    SELECT org, supplier, n, amount,
           ROW_NUMBER() OVER (PARTITION BY org ORDER BY amount DESC, n DESC, supplier) AS position,
           SUM(n) OVER (PARTITION BY org) AS org_n,
           SUM(amount) OVER (PARTITION BY org) AS org_amount,
           SUM(amount * amount) OVER (PARTITION BY org) AS org_squares
    FROM pairs
)
SELECT o.name, CAST(r.org_n AS BIGINT), r.org_amount, s.name, r.n, r.amount,
       r.org_squares / (r.org_amount * r.org_amount) * 10000
FROM ranked r
JOIN explorer_organization o ON o.id = r.org
JOIN explorer_supplier s ON s.id = r.supplier
WHERE r.position = 1 AND r.org_n >= %s AND r.org_amount > 0
"""


def _concentration(base: QuerySet[Award]) -> dict[str, Any]:
    try:
        sql, params = base.values("organization_id", "supplier_id", "amount").query.sql_with_params()
    except EmptyResultSet:  # a filter that can match nothing
        rows = []
    else:
        with connection.cursor() as cursor:
            cursor.execute(CONCENTRATION_SQL.format(awards=sql), [*params, CONCENTRATION_MIN_AWARDS])
            rows = cursor.fetchall()
    entities = []
    for name, n, amount, top_name, top_n, top_amount, hhi in rows:
        spend_share = top_amount / amount
        count_share = top_n / n
        entities.append(
            {
                "name": name,
                "awards": n,
                "amount": amount,
                "top_supplier": top_name,
                "top_awards": top_n,
                "top_amount": top_amount,
                "spend_share": spend_share,
                "count_share": count_share,
                "hhi": hhi,
                "flag": spend_share >= CONCENTRATION_SPEND_SHARE and count_share >= CONCENTRATION_COUNT_SHARE,
            }
        )
    entities.sort(key=lambda row: (not row["flag"], -row["spend_share"], -row["awards"]))
    return {
        "min_awards": CONCENTRATION_MIN_AWARDS,
        "spend_share": CONCENTRATION_SPEND_SHARE,
        "count_share": CONCENTRATION_COUNT_SHARE,
        "tested": len(entities),
        "flagged": sum(row["flag"] for row in entities),
        "entities": entities[:LISTED],
    }
