"""Award search: the filters shared by the search page, exports, reports and scans.

The query-string names are a fixed interface (DESIGN.md): `q`, `organization`, `supplier`,
`category`, `area`, `mode`, `date_from`, `date_to`, `amount_min`, `amount_max`, `status`,
`sort`. `SearchForm` validates them (field errors for the page and the API) and
`awards_matching()` turns the cleaned values into a queryset.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import F, Q, QuerySet

from explorer.models import Award
from explorer.suggest import SuggestInput

FILTER_NAMES = (
    "q",
    "organization",
    "supplier",
    "category",
    "area",
    "mode",
    "date_from",
    "date_to",
    "amount_min",
    "amount_max",
    "status",
    "sort",
)
# (field, descending). Nulls sort first when descending and last when ascending: that is
# PostgreSQL's default, so the (award_date, id) and (amount, id) indexes serve the
# order (and keyset pages) in both directions; SQLite is told the same explicitly.
SORTS = {
    "-date": ("award_date", True),
    "date": ("award_date", False),
    "-amount": ("amount", True),
    "amount": ("amount", False),
}
PAGE_SIZE = 50
# Relevance order has no index to page on: it is bounded to this many pages instead.
MAX_RELEVANCE_PAGES = 20
MAX_AMOUNT = Decimal("1e16")


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Keywords",
        required=False,
        max_length=300,
        help_text='Words, "exact phrases", -excluded, or',
    )
    organization = forms.CharField(
        label="Procuring entity", required=False, max_length=255, widget=SuggestInput("organization")
    )
    supplier = forms.CharField(required=False, max_length=255, widget=SuggestInput("supplier"))
    category = forms.CharField(label="Business category", required=False, max_length=255)
    area = forms.CharField(label="Area of delivery", required=False, max_length=255)
    mode = forms.CharField(label="Procurement mode", required=False, max_length=150)
    status = forms.CharField(label="Award status", required=False, max_length=50)
    date_from = forms.DateField(label="Awarded from", required=False)
    date_to = forms.DateField(label="Awarded to", required=False)
    amount_min = forms.DecimalField(
        label="Amount from (PHP)", required=False, min_value=0, max_value=MAX_AMOUNT, decimal_places=2
    )
    amount_max = forms.DecimalField(
        label="Amount to (PHP)", required=False, min_value=0, max_value=MAX_AMOUNT, decimal_places=2
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Best match / newest"),
            ("-date", "Newest first"),
            ("date", "Oldest first"),
            ("-amount", "Largest amount first"),
            ("amount", "Smallest amount first"),
            ("relevance", "Relevance"),
        ],
    )

    def clean_q(self) -> str:
        value = self.cleaned_data["q"]
        if "\x00" in value:
            raise forms.ValidationError("Keywords cannot contain a NUL character.")
        return " ".join(value.split())

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in FILTER_NAMES:
            value = data.get(name)
            if isinstance(value, str) and "\x00" in value:
                self.add_error(name, "This value cannot contain a NUL character.")
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The end date is before the start date.")
        low, high = data.get("amount_min"), data.get("amount_max")
        if low is not None and high is not None and low > high:
            self.add_error("amount_max", "The maximum is below the minimum.")
        if data.get("sort") == "relevance" and not data.get("q"):
            data["sort"] = ""
        return data


def active_filters(cleaned: Mapping[str, Any]) -> dict[str, str]:
    """The non-empty filters as strings, in the fixed order: for URLs and job params."""
    result: dict[str, str] = {}
    for name in FILTER_NAMES:
        value = cleaned.get(name)
        if value in (None, ""):
            continue
        result[name] = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return result


def awards_matching(cleaned: Mapping[str, Any]) -> QuerySet[Award]:
    """Awards matching validated filters (SearchForm.cleaned_data), in the requested order."""
    awards = Award.objects.all()
    query = cleaned.get("q") or ""
    if query:
        if connection.vendor == "postgresql":
            search = SearchQuery(query, search_type="websearch", config="english")
            awards = awards.filter(search_vector=search)
        else:
            # SQLite (local mode) has no full-text index: every word must appear.
            for word in query.split():
                word = word.strip('"')
                if word.startswith("-") and len(word) > 1:
                    awards = awards.exclude(search_text__icontains=word[1:])
                elif word and word.lower() != "or":
                    awards = awards.filter(search_text__icontains=word)
    exact = {
        "organization": "organization__name",
        "supplier": "supplier__name",
        "category": "category__name",
        "area": "area__name",
        "mode": "procurement_mode",
        "status": "status",
    }
    conditions = Q()
    for name, lookup in exact.items():
        if cleaned.get(name):
            conditions &= Q(**{lookup: cleaned[name]})
    if cleaned.get("date_from"):
        conditions &= Q(award_date__gte=cleaned["date_from"])
    if cleaned.get("date_to"):
        conditions &= Q(award_date__lte=cleaned["date_to"])
    if cleaned.get("amount_min") is not None:
        conditions &= Q(amount__gte=cleaned["amount_min"])
    if cleaned.get("amount_max") is not None:
        conditions &= Q(amount__lte=cleaned["amount_max"])
    awards = awards.filter(conditions)

    sort = effective_sort(cleaned)
    if sort == "relevance":
        rank = SearchRank(F("search_vector"), SearchQuery(query, search_type="websearch", config="english"))
        return awards.annotate(rank=rank).order_by("-rank", "-id")
    name, descending = SORTS[sort]
    if descending:
        return awards.order_by(F(name).desc(nulls_first=True), "-id")
    return awards.order_by(F(name).asc(nulls_last=True), "id")


def effective_sort(cleaned: Mapping[str, Any]) -> str:
    sort = cleaned.get("sort") or ("relevance" if cleaned.get("q") else "-date")
    if sort == "relevance" and not (cleaned.get("q") and connection.vendor == "postgresql"):
        return "-date"
    return sort


class BadCursor(ValueError):
    pass


def keyset_page(
    awards: QuerySet[Award], *, cleaned: Mapping[str, Any], after: str = "", size: int = PAGE_SIZE
) -> tuple[list[Award], str]:
    """One page of an ordered result and the cursor of the next page ("" at the end).

    The cursor holds the last row's sort value and id, so page 10,000 costs what page 1
    does (no OFFSET). Relevance order uses a page number, bounded to MAX_RELEVANCE_PAGES.
    """
    sort = effective_sort(cleaned)
    if sort == "relevance":
        page = _int_cursor(after) if after else 0
        rows = list(awards[page * size : page * size + size + 1])
        more = len(rows) > size and page + 1 < MAX_RELEVANCE_PAGES
        return rows[:size], str(page + 1) if more else ""
    name, descending = SORTS[sort]
    if after:
        awards = awards.filter(_after(name, descending, after))
    rows = list(awards[: size + 1])
    if len(rows) <= size:
        return rows, ""
    last = rows[size - 1]
    value = getattr(last, name)
    return rows[
        :size
    ], f"{'' if value is None else value.isoformat() if hasattr(value, 'isoformat') else value}~{last.id}"


def _int_cursor(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise BadCursor(text) from None
    if not 0 <= value < MAX_RELEVANCE_PAGES:
        raise BadCursor(text)
    return value


def _after(name: str, descending: bool, cursor: str) -> Q:
    raw, _, raw_id = cursor.rpartition("~")
    last_id = _int_cursor_id(raw_id)
    try:
        value: Any = (
            None if raw == "" else (dt.date.fromisoformat(raw) if name == "award_date" else Decimal(raw))
        )
    except (ValueError, ArithmeticError):
        raise BadCursor(cursor) from None
    is_null = Q(**{f"{name}__isnull": True})
    if descending:  # nulls first, then values high to low
        if value is None:
            return (is_null & Q(id__lt=last_id)) | ~is_null
        return Q(**{f"{name}__lt": value}) | Q(**{name: value, "id__lt": last_id})
    if value is None:  # ascending: values low to high, then nulls
        return is_null & Q(id__gt=last_id)
    return Q(**{f"{name}__gt": value}) | Q(**{name: value, "id__gt": last_id}) | is_null


def _int_cursor_id(text: str) -> int:
    if not text.isdigit():
        raise BadCursor(text)
    return int(text)
