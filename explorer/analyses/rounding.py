"""Round amounts (multiples of 1k to 1M) and the distribution of last digits."""

from __future__ import annotations

from typing import Any, TypedDict

from django.db.models import Count, Q, QuerySet, Value
from django.db.models.functions import Floor, Mod

from explorer.analyses.base import Analysis, SearchLink, Sheet
from explorer.models import Award

UNITS = (1_000, 10_000, 100_000, 1_000_000)


class Multiple(TypedDict):
    unit: int
    count: int
    share: float


class Rounding(TypedDict):
    total: int
    multiples: list[Multiple]
    last_digit: list[list[int]]  # [digit, awards] for 0-9


class RoundAmounts(Analysis):
    name = "rounding"
    label = "Rounding and last digits"
    template = "explorer/analyses/rounding.html"

    def compute(self, awards: QuerySet[Award]) -> Rounding:
        annotated = awards.filter(amount__gte=1).annotate(
            **{f"mod{unit}": Mod("amount", Value(unit)) for unit in UNITS}
        )
        counts = annotated.aggregate(
            total=Count("id"), **{f"m{unit}": Count("id", filter=Q(**{f"mod{unit}": 0})) for unit in UNITS}
        )
        total = counts["total"]
        last = {
            int(digit): n
            for digit, n in awards.filter(amount__gte=10)
            .annotate(digit=Mod(Floor("amount"), Value(10)))
            .values("digit")
            .annotate(n=Count("id"))
            .values_list("digit", "n")
        }
        return {
            "total": total,
            "multiples": [
                {
                    "unit": unit,
                    "count": counts[f"m{unit}"],
                    "share": counts[f"m{unit}"] / total if total else 0.0,
                }
                for unit in UNITS
            ],
            "last_digit": [[d, last.get(d, 0)] for d in range(10)],
        }

    def sheets(self, payload: Rounding) -> list[Sheet]:
        total = payload["total"]
        return [
            Sheet(
                "Rounding",
                ["Measure", "Count", "Share"],
                [
                    *[[f"Multiple of {m['unit']:,}", m["count"], m["share"]] for m in payload["multiples"]],
                    *[[f"Last digit {d}", n, n / total if total else 0] for d, n in payload["last_digit"]],
                ],
            )
        ]

    def page(self, payload: Rounding, search: SearchLink) -> dict[str, Any]:
        return {
            "data": payload,
            "chart": {
                "labels": [str(d) for d, _ in payload["last_digit"]],
                "format": "count",
                "series": [{"label": "Awards", "values": [n for _, n in payload["last_digit"]]}],
            },
        }
