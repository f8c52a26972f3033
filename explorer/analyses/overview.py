"""Totals by month and the top procuring entities, suppliers, categories, areas and modes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypedDict

from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import ExtractMonth, ExtractYear

from explorer.analyses.base import Analysis, SearchLink, Sheet
from explorer.models import Award

TOP = 20
# (payload key, the expression grouped by, the search filter of one value, sheet title)
TOP_LISTS = (
    ("organizations", F("organization__name"), "organization", "Top organizations"),
    ("suppliers", F("supplier__name"), "supplier", "Top suppliers"),
    ("categories", F("category__name"), "category", "Top categories"),
    ("areas", F("area__name"), "area", "Top areas"),
    ("modes", F("procurement_mode"), "mode", "Top modes"),
)


def number(value: Decimal | None) -> float:
    return float(value) if value is not None else 0.0


class ByMonth(Analysis):
    name = "by_month"
    label = "Totals by month"
    template = "explorer/analyses/by_month.html"

    def compute(self, awards: QuerySet[Award]) -> list[list[Any]]:
        """[year, month, awards, amount] per month with dated awards."""
        return [
            [year, month, n, number(amount)]
            for year, month, n, amount in awards.exclude(award_date__isnull=True)
            .annotate(year=ExtractYear("award_date"), month=ExtractMonth("award_date"))
            .values("year", "month")
            .annotate(n=Count("id"), amount=Sum("amount"))
            .order_by("year", "month")
            .values_list("year", "month", "n", "amount")
        ]

    def sheets(self, payload: list[list[Any]]) -> list[Sheet]:
        return [Sheet("By month", ["Year", "Month", "Awards", "Amount (PHP)"], payload)]

    def page(self, payload: list[list[Any]], search: SearchLink) -> dict[str, Any]:
        return {
            "chart": {
                "labels": [f"{year}-{month:02d}" for year, month, _, _ in payload],
                "series": [{"label": "Amount (PHP)", "values": [amount for *_, amount in payload]}],
            }
        }


class Top(TypedDict):
    organizations: list[list[Any]]  # [name, awards, amount], largest amount first
    suppliers: list[list[Any]]
    categories: list[list[Any]]
    areas: list[list[Any]]
    modes: list[list[Any]]


class TopLists(Analysis):
    name = "top"
    label = "Top organizations, suppliers, categories, areas and modes"
    template = "explorer/analyses/top.html"

    def compute(self, awards: QuerySet[Award]) -> Top:
        return {key: _top(awards, expression) for key, expression, _, _ in TOP_LISTS}  # type: ignore[return-value]  # TOP_LISTS keys are Top's

    def sheets(self, payload: Top) -> list[Sheet]:
        return [
            Sheet(title, ["Name", "Awards", "Amount (PHP)"], payload[key])  # type: ignore[literal-required]  # as above
            for key, _, _, title in TOP_LISTS
        ]

    def page(self, payload: Top, search: SearchLink) -> dict[str, Any]:
        return {
            "lists": {
                key: [[*row, search(**{field: row[0]})] for row in payload[key]]  # type: ignore[literal-required]  # as above
                for key, _, field, _ in TOP_LISTS
            }
        }


def _top(awards: QuerySet[Award], expression: Any) -> list[list[Any]]:
    rows = (
        awards.annotate(value=expression)
        .exclude(value__isnull=True)
        .exclude(value="")
        .values("value")
        .annotate(n=Count("id"), amount=Sum("amount"))
        .order_by(F("amount").desc(nulls_last=True), "value")
        .values_list("value", "n", "amount")[:TOP]
    )
    return [[value, n, number(amount)] for value, n, amount in rows]
