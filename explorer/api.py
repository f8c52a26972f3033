"""The awards API (v1): searches with the search page's filters, awards, organizations
and suppliers. Mounted with the OpenAPI document by config/api.py.

Filters are FILTERS' own fields, validated by SearchForm exactly as on the page; a page of
awards is the page's keyset page, with the same capped count and a `next` link.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from pydantic import create_model

from config import login, ratelimit
from explorer import aggregates
from explorer.models import Award, Organization, Supplier
from explorer.search import (
    AMOUNT_CURSOR,
    DATE_CURSOR,
    FILTERS,
    ID_CURSOR,
    PAGE_CURSOR,
    BadCursor,
    SearchForm,
    keyset_page,
)

router = Router(tags=["awards"])


class ApiError(Exception):
    """An answer other than 200: JSON `{"error": ..., "fields": {...}}` (config/api.py)."""

    def __init__(
        self, status: int, message: str, *, fields: dict[str, list[str]] | None = None, retry_after: int = 0
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.fields, self.retry_after = status, message, fields, retry_after


class Error(Schema):
    error: str
    fields: dict[str, list[str]] | None = None


ERRORS: dict[int, Any] = {400: Error, 401: Error, 404: Error, 429: Error}


def authorize(request: HttpRequest) -> None:
    """Who may read: anyone with public browsing (anonymous callers share the anonymous
    search limit per address), else a session or a token; a token's requests are limited
    per token. Raises ApiError."""
    from jobs.api import token_throttle, token_user  # jobs imports explorer: not at import time

    if "Authorization" in request.headers:
        wait = token_throttle(request)
        if wait is not None:
            raise ApiError(
                429, f"Too many requests with this token: try again in {wait} s.", retry_after=wait
            )
        user = token_user(request)
        if user is None:
            raise ApiError(401, "Invalid API token.")
        request.user = user
        return
    if request.user.is_authenticated:
        return
    if not settings.PUBLIC_BROWSING:
        raise ApiError(401, "Log in or send 'Authorization: Token <token>'.")
    wait = ratelimit.hit(
        "anon-search", login.client_ip(request) or "unknown", settings.ANON_SEARCH_PER_MINUTE
    )
    if wait is not None:
        raise ApiError(429, f"Too many requests from this address: try again in {wait} s.", retry_after=wait)


# --- The filters, from FILTERS -----------------------------------------------------------


def _query_field(field: forms.Field) -> tuple[Any, Any]:
    """The OpenAPI type of one search filter (SearchForm still does the validating)."""
    description = str(field.help_text or field.label or "")
    if isinstance(field, forms.DateField):
        return dt.date | None, Field(None, description=description)
    if isinstance(field, forms.DecimalField):
        pattern = AMOUNT_CURSOR.pattern.removeprefix("-?")
        return str | None, Field(None, pattern=f"^{pattern}$", description=description + " (PHP)")
    if isinstance(field, forms.UUIDField):
        return uuid.UUID | None, Field(None, description=description)
    if isinstance(field, forms.ChoiceField):
        choices = tuple(value for value, _ in field.choices)  # type: ignore[union-attr,misc]  # a list here
        return Literal[choices] | None, Field(None, description=description)
    max_length = getattr(field, "max_length", None)  # CharField
    return str | None, Field(None, max_length=max_length, pattern=r"^[^\x00]*$", description=description)


# What keyset_page() writes: a sort value (date, amount or nothing) and an id, or a page
# number in relevance order.
CURSOR_PATTERN = (
    rf"^(({DATE_CURSOR.pattern}|{AMOUNT_CURSOR.pattern})?~{ID_CURSOR.pattern}|{PAGE_CURSOR.pattern})$"
)

AwardFilters = create_model(  # type: ignore[call-overload]  # fields built from FILTERS at run time
    "AwardFilters",
    __base__=Schema,
    **{f.name: _query_field(f.field) for f in FILTERS},
    after=(str | None, Field(None, pattern=CURSOR_PATTERN, description="The cursor of a `next` link")),
)


def search_form(request: HttpRequest) -> SearchForm:
    """The query string's filters as the page reads them, or a 400 naming each field."""
    repeated = {
        name: ["Send this filter once."] for name in request.GET if len(request.GET.getlist(name)) > 1
    }
    if repeated:
        raise ApiError(400, "Invalid filters.", fields=repeated)
    form = SearchForm(request.GET, user=request.user)
    if not form.is_valid():
        raise ApiError(
            400, "Invalid filters.", fields={k: [str(m) for m in v] for k, v in form.errors.items()}
        )
    return form


# --- Output ------------------------------------------------------------------------------


class Named(Schema):
    id: uuid.UUID
    name: str
    url: str


class AwardOut(Schema):
    id: uuid.UUID
    url: str
    award_number: str
    title: str
    amount: str | None
    status: str
    award_date: dt.date | None
    published_date: dt.date | None
    contract_number: str
    procurement_mode: str
    organization: Named
    supplier: Named | None
    category: str | None
    area: str | None
    notice_reference: str | None = None


class Count(Schema):
    count: int = Field(description="Exact up to `cap` awards; past it `cap` + 1 with `exact` false")
    exact: bool
    amount: str | None = Field(description="Total amount (PHP), when the count is exact")
    cap: int


class AwardPage(Schema):
    count: Count | None = Field(description="null when counting took longer than the page's time limit")
    results: list[AwardOut]
    next: str | None


def _named(entity: Organization | Supplier | None, route: str) -> dict[str, Any] | None:
    if entity is None:
        return None
    return {"id": entity.public_id, "name": entity.name, "url": f"/api/{route}/{entity.public_id}/"}


def award_json(award: Award, *, notice: bool = False) -> dict[str, Any]:
    return {
        "id": award.public_id,
        "url": f"/api/awards/{award.public_id}/",
        "award_number": award.award_number,
        "title": award.title,
        "amount": None if award.amount is None else str(award.amount),
        "status": award.status,
        "award_date": award.award_date,
        "published_date": award.published_date,
        "contract_number": award.contract_number,
        "procurement_mode": award.procurement_mode,
        "organization": _named(award.organization, "organizations"),
        "supplier": _named(award.supplier, "suppliers"),
        "category": award.category.name if award.category else None,
        "area": award.area.name if award.area else None,
        "notice_reference": award.notice.reference_number if notice else None,
    }


@router.get("/awards/", response={200: AwardPage, **ERRORS}, summary="Search awards")
def list_awards(request: HttpRequest, filters: Query[AwardFilters]) -> Any:  # type: ignore[valid-type]  # a model made at run time
    """Awards matching the search page's filters, in its order, 50 a page (keyset pages:
    follow `next`). The count is exact up to `cap`, as on the page."""
    authorize(request)
    search = search_form(request).search
    after = request.GET.get("after", "")
    awards = search.awards()
    # As the search page does: a small result is sorted whole rather than walked.
    totals = aggregates.capped_totals(awards)
    small = not totals.timed_out and totals.value["exact"]
    try:
        rows, next_cursor = keyset_page(
            awards.select_related("organization", "supplier", "category", "area"),
            search=search,
            after=after,
            small=small,
        )
    except BadCursor:
        raise ApiError(
            400, "Invalid cursor.", fields={"after": ["Use the `next` link of a previous page."]}
        ) from None
    count = None
    if not totals.timed_out:
        value = totals.value
        amount = value["amount"] if value["exact"] else None
        count = {
            "count": value["count"],
            "exact": value["exact"],
            "amount": None if amount is None else str(amount),
            "cap": aggregates.COUNT_CAP,
        }
    next_url = f"/api/awards/?{urlencode({**search.filters, 'after': next_cursor})}" if next_cursor else None
    return {"count": count, "results": [award_json(award) for award in rows], "next": next_url}


@router.get("/awards/{award_id}/", response={200: AwardOut, **ERRORS}, summary="One award")
def get_award(request: HttpRequest, award_id: uuid.UUID) -> Any:
    authorize(request)
    award = _get(
        Award.objects.select_related("notice", "organization", "supplier", "category", "area"), award_id
    )
    return award_json(award, notice=True)


class YearTotal(Schema):
    year: int | None
    count: int
    amount: str | None


class Counterparty(Schema):
    name: str | None
    count: int
    amount: str | None


class EntityOut(Schema):
    id: uuid.UUID
    name: str
    kind: Literal["organization", "supplier"]
    count: int | None = Field(description="null when the total took too long")
    amount: str | None
    by_year: list[YearTotal] | None
    top_counterparties: list[Counterparty] | None
    awards_url: str = Field(description="The API search of this entity's awards")


def _money(value: Any) -> str | None:
    return None if value is None else str(value)


def entity_json(entity: Organization | Supplier, kind: str) -> dict[str, Any]:
    filter_name = kind
    counterpart = "supplier" if kind == "organization" else "organization"
    summary = aggregates.entity_summary(Award.objects.filter(**{kind: entity}), counterpart=counterpart)
    totals = summary.totals.value if not summary.totals.timed_out else None
    return {
        "id": entity.public_id,
        "name": entity.name,
        "kind": kind,
        "count": totals["count"] if totals else None,
        "amount": _money(totals["amount"]) if totals else None,
        "by_year": None
        if summary.by_year.timed_out
        else [
            {"year": year, "count": n, "amount": _money(amount)}
            for year, n, amount in summary.by_year.value or []
        ],
        "top_counterparties": None
        if summary.counterparties.timed_out
        else [
            {"name": name, "count": n, "amount": _money(amount)}
            for name, n, amount in summary.counterparties.value or []
        ],
        "awards_url": f"/api/awards/?{urlencode({filter_name: entity.name})}",
    }


def _get(queryset: Any, public_id: uuid.UUID) -> Any:
    try:
        return get_object_or_404(queryset, public_id=public_id)
    except Exception as exc:  # Http404
        raise ApiError(404, "No such record.") from exc


@router.get(
    "/organizations/{organization_id}/", response={200: EntityOut, **ERRORS}, summary="A procuring entity"
)
def get_organization(request: HttpRequest, organization_id: uuid.UUID) -> Any:
    """The procuring entity with its awards' count and total, by year, and top suppliers."""
    authorize(request)
    return entity_json(_get(Organization.objects.all(), organization_id), "organization")


@router.get("/suppliers/{supplier_id}/", response={200: EntityOut, **ERRORS}, summary="A supplier")
def get_supplier(request: HttpRequest, supplier_id: uuid.UUID) -> Any:
    """The supplier with its awards' count and total, by year, and top procuring entities."""
    authorize(request)
    return entity_json(_get(Supplier.objects.all(), supplier_id), "supplier")
