"""Award search: the filters shared by the search page, exports, reports and scans.

The query-string names are a fixed interface (DESIGN.md): `q`, `organization`, `supplier`,
`category`, `area`, `mode`, `date_from`, `date_to`, `amount_min`, `amount_max`, `status`,
`sort`. `SearchForm` validates them (field errors for the page and the API) and
`awards_matching()` turns the cleaned values into a queryset.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import F, Q, QuerySet

from explorer.models import Award

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
SORTS = {
    "-date": ("-award_date", "-id"),
    "date": ("award_date", "id"),
    "-amount": ("-amount", "-id"),
    "amount": ("amount", "id"),
}
MAX_AMOUNT = Decimal("1e16")


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Keywords",
        required=False,
        max_length=300,
        help_text='Words, "exact phrases", -excluded, or',
    )
    organization = forms.CharField(label="Procuring entity", required=False, max_length=255)
    supplier = forms.CharField(required=False, max_length=255)
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

    sort = cleaned.get("sort") or ("relevance" if query else "-date")
    if sort == "relevance" and query and connection.vendor == "postgresql":
        rank = SearchRank(F("search_vector"), SearchQuery(query, search_type="websearch", config="english"))
        return awards.annotate(rank=rank).order_by("-rank", "-id")
    return awards.order_by(*SORTS.get(sort, SORTS["-date"]))
