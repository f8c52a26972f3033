"""Bounded aggregates for the pages: result totals and entity summaries (facets:
explorer/facets.py).

Every query runs under a statement timeout (FACET_TIMEOUT_MS) and fetches
`limit + 1` rows to know it was truncated; a slow one comes back as timed out, and the
page says so instead of failing (datasette's facets work the same way).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import ExtractYear

from explorer.models import Award

T = TypeVar("T")
# The search page counts a result exactly up to this many awards and says "more than" past
# it: counting 400,000 matches of a common word takes most of a second, counting 5,001 a
# few milliseconds. The full count is fetched separately (totals(), deferred by the page).
COUNT_CAP = 5_000


@dataclass
class Bounded:
    value: Any = None
    timed_out: bool = False


def bounded(query: Callable[[], T], *, timeout_ms: int | None = None) -> Bounded:
    """Run `query` under the page statement timeout (or `timeout_ms`); timed_out instead
    of an error."""
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL statement_timeout = %s", [timeout_ms or settings.FACET_TIMEOUT_MS])
            return Bounded(query())
    except OperationalError as exc:  # QueryCanceled is an OperationalError subclass
        if "statement timeout" not in str(exc):
            raise
        return Bounded(timed_out=True)


def totals(awards: QuerySet[Award]) -> Bounded:
    """Count and total amount of a result."""
    return bounded(lambda: awards.order_by().aggregate(count=Count("id"), amount=Sum("amount")))


def capped_totals(awards: QuerySet[Award], *, cap: int | None = None) -> Bounded:
    """Count and total amount of a result, exact up to `cap` awards.

    The value has `count`, `amount` and `exact`; when the result holds more than `cap`
    awards, `exact` is False, `count` is `cap` + 1 and `amount` is None. `cap` defaults to
    COUNT_CAP.
    """
    cap = COUNT_CAP if cap is None else cap

    def run() -> dict[str, Any]:
        # LIMIT inside, aggregate outside: the scan stops at cap + 1 rows, in whatever order
        # the cheapest plan meets them. values() keeps a relevance rank out of the inner
        # SELECT; with "amount" alone Django 5.2 writes an empty inner SELECT list.
        value = (
            awards.order_by()
            .values("id", "amount")[: cap + 1]
            .aggregate(count=Count("*"), amount=Sum("amount"))
        )
        exact = value["count"] <= cap
        return {"count": value["count"], "amount": value["amount"] if exact else None, "exact": exact}

    return bounded(run)


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
