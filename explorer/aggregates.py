"""Bounded aggregates for the pages: result totals, facets, entity summaries.

Every query runs under a statement timeout (FACET_TIMEOUT_MS) on PostgreSQL and fetches
`limit + 1` rows to know it was truncated; a slow one comes back as timed out, and the
page says so instead of failing (datasette's facets work the same way).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import ExtractYear

from explorer.models import Award

T = TypeVar("T")
FACET_LIMIT = 8


@dataclass
class Bounded:
    value: Any = None
    timed_out: bool = False


@dataclass
class Facet:
    name: str  # the filter it sets
    label: str
    values: list[tuple[Any, int]] = field(default_factory=list)
    truncated: bool = False
    timed_out: bool = False


def bounded(query: Callable[[], T]) -> Bounded:
    """Run `query` under the page statement timeout; timed_out instead of an error."""
    if connection.vendor != "postgresql":
        return Bounded(query())
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL statement_timeout = %s", [settings.FACET_TIMEOUT_MS])
            return Bounded(query())
    except OperationalError as exc:  # QueryCanceled is an OperationalError subclass
        if "statement timeout" not in str(exc):
            raise
        return Bounded(timed_out=True)


def totals(awards: QuerySet[Award]) -> Bounded:
    """Count and total amount of a result."""
    return bounded(lambda: awards.order_by().aggregate(count=Count("id"), amount=Sum("amount")))


FACETS = (
    ("category", "Business category", F("category__name")),
    ("area", "Area of delivery", F("area__name")),
    ("mode", "Procurement mode", F("procurement_mode")),
    ("year", "Award year", ExtractYear("award_date")),
)


def facets(awards: QuerySet[Award], *, active: dict[str, str]) -> list[Facet]:
    result = []
    for name, label, expression in FACETS:
        facet = Facet(name=name, label=label)
        if name in active:
            facet.values = [(active[name], 0)]
            result.append(facet)
            continue
        values = awards.order_by().annotate(value=expression).exclude(value__isnull=True)
        if name != "year":
            values = values.exclude(value="")
        rows = bounded(
            lambda values=values: list(
                values.values("value")
                .annotate(n=Count("id"))
                .order_by("-n", "value")
                .values_list("value", "n")[: FACET_LIMIT + 1]
            )
        )
        facet.timed_out = rows.timed_out
        if rows.value:
            facet.values = rows.value[:FACET_LIMIT]
            facet.truncated = len(rows.value) > FACET_LIMIT
        result.append(facet)
    return result


@dataclass
class EntitySummary:
    totals: Bounded
    by_year: Bounded
    counterparties: Bounded
    categories: Bounded
    modes: Bounded


def entity_summary(awards: QuerySet[Award], *, counterpart: str) -> EntitySummary:
    """An organization's or supplier's awards: totals, per year, top partners, mix."""
    base = awards.order_by()

    def top(expression: Any) -> Callable[[], list[tuple[Any, int, Decimal]]]:
        return lambda: list(
            base.annotate(value=expression)
            .values("value")
            .annotate(n=Count("id"), amount=Sum("amount"))
            .order_by(F("amount").desc(nulls_last=True))
            .values_list("value", "n", "amount")[:10]
        )

    return EntitySummary(
        totals=totals(awards),
        by_year=bounded(
            lambda: list(
                base.annotate(year=ExtractYear("award_date"))
                .exclude(year__isnull=True)
                .values("year")
                .annotate(n=Count("id"), amount=Sum("amount"))
                .order_by("year")
                .values_list("year", "n", "amount")[:60]
            )
        ),
        counterparties=bounded(top(F(f"{counterpart}__name"))),
        categories=bounded(top(F("category__name"))),
        modes=bounded(top(F("procurement_mode"))),
    )
