"""Award search: the filters shared by the search page, exports, reports and scans.

Each filter is one row of FILTERS: its query-string name (a fixed interface, DESIGN.md),
its form field, and the condition it puts on awards. `SearchForm` is built from that
table and validates a query string or a job's saved filters; its `search` is the one
parsed value that the page, the keyset pager, the facets and the job buttons all read.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import BooleanField, DateField, DecimalField, F, Func, Model, Q, QuerySet, Value
from django.urls import reverse

from explorer import modes
from explorer.indicators import CODES as INDICATOR_CODES
from explorer.indicators import INDICATORS
from explorer.models import (
    Area,
    Award,
    BusinessCategory,
    Organization,
    ResultSet,
    ResultSetMember,
    Supplier,
)
from explorer.suggest import SuggestInput

# (field, descending). Nulls sort first when descending and last when ascending: that is
# PostgreSQL's default, so the (award_date, id) and (amount, id) indexes serve the
# order (and keyset pages) in both directions.
SORTS = {
    "-date": ("award_date", True),
    "date": ("award_date", False),
    "-amount": ("amount", True),
    "amount": ("amount", False),
}
PAGE_SIZE = 50
# Relevance order has no index to page on: it is bounded to this many pages instead.
MAX_RELEVANCE_PAGES = 20
# Ranking every match of a common word means ranking hundreds of thousands of rows (about a
# second for "supply" on 1M awards); a large result is ranked among its newest matches only,
# twice as many as the MAX_RELEVANCE_PAGES a user can page through.
RELEVANCE_CANDIDATES = 2_000
# How many rows of the whole order past its cursor a page of a large result may walk along
# its sort index before its matches are sorted instead: a short walk first, then a longer
# one (see _walk).
WALK_WINDOWS = (2_000, 50_000)
MAX_AMOUNT = Decimal("1e16")
RESULT_SET_GONE = "This result set is not one of your finished scans, or it has expired."
AMOUNT_ERRORS = {"max_value": "Enter an amount up to 10,000,000,000,000,000.", "invalid": "Enter a number."}
# Cursors are written by keyset_page() only: anything else in `after` is a broken link. The
# patterns admit exactly what it writes (the amount column is numeric(18, 2), ids bigint),
# so no NaN, Infinity, exponent or out-of-range number reaches a query.
AMOUNT_CURSOR = re.compile(r"-?[0-9]{1,16}(\.[0-9]{1,2})?")
DATE_CURSOR = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ID_CURSOR = re.compile(r"[0-9]{1,19}")
PAGE_CURSOR = re.compile(r"[0-9]{1,3}")
MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Filter:
    """One search filter: its query-string name, its form field and its condition.

    `condition` turns the cleaned value into a Q on awards; None for `sort`, which orders
    rather than selects.
    """

    name: str
    field: forms.Field
    condition: Callable[[Any], Q] | None


def _keywords(query: str) -> Q:
    return Q(search_vector=SearchQuery(query, search_type="websearch", config="english"))


def _named(model: type[Model], column: str) -> Callable[[str], Q]:
    # Names are resolved to ids first: with `organization_id = 42` the planner reads that
    # agency's own row count from the column statistics (one agency holds 17 % of the demo
    # awards, most hold a handful), where a join on the name is costed as an average agency.
    # An unknown name becomes id 0, which no row has: an empty result, as the join gave.
    def condition(name: str) -> Q:
        pk = model._default_manager.filter(name=name).values_list("id", flat=True).first()
        return Q(**{column: pk or 0})

    return condition


def _amount(label: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        min_value=0,
        max_value=MAX_AMOUNT,
        decimal_places=2,
        error_messages=AMOUNT_ERRORS,
    )


# The browser's date picker; it sends ISO dates, the format DateField reads first.
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class FlagField(forms.Field):
    """Indicator codes (explorer/indicators/): `R003` or `R003,PH01` in a query string, or a
    list of codes in a job's filters; cleaned to the comma-joined codes in registry order."""

    def to_python(self, value: Any) -> str:
        if value in (None, "", []):
            return ""
        parts = value if isinstance(value, (list, tuple)) else str(value).split(",")
        codes = {str(part).strip().upper() for part in parts if str(part).strip()}
        unknown = sorted(codes - set(INDICATOR_CODES))
        if unknown:
            raise forms.ValidationError(
                f"Unknown indicator code {', '.join(unknown)[:100]}; "
                f"the codes are {', '.join(INDICATOR_CODES)}."
            )
        return ",".join(code for code in INDICATOR_CODES if code in codes)


class FlagSelect(forms.SelectMultiple):
    """The indicators as a list to pick from; reads `flag=R003&flag=PH01` and `flag=R003,PH01`
    (what chips, facets and shared links carry) alike, and shows either as selected."""

    def __init__(self) -> None:
        choices = [(code, f"{code} {indicator.label}") for code, indicator in INDICATORS.items()]
        super().__init__(attrs={"size": 4}, choices=choices)

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[str]:
        values = super().value_from_datadict(data, files, name)
        values = values if isinstance(values, (list, tuple)) else [values]
        return [code for value in values if value for code in str(value).split(",") if code.strip()]

    def format_value(self, value: Any) -> list[str]:
        return super().format_value(value.split(",") if isinstance(value, str) else value)


def _flagged(codes: str) -> Q:
    # Awards carrying every code named (the GIN index on flags serves `@>`).
    return Q(flags__contains=codes.split(","))


SORT_CHOICES = [
    ("", "Best match / newest"),
    ("-date", "Newest first"),
    ("date", "Oldest first"),
    ("-amount", "Largest amount first"),
    ("amount", "Smallest amount first"),
    ("relevance", "Relevance"),
]

FILTERS: tuple[Filter, ...] = (
    Filter(
        "q",
        forms.CharField(
            label="Keywords",
            required=False,
            max_length=300,
            help_text='Words, "exact phrases", -excluded, or',
        ),
        _keywords,
    ),
    Filter(
        "organization",
        forms.CharField(
            label="Procuring entity", required=False, max_length=255, widget=SuggestInput("organization")
        ),
        _named(Organization, "organization_id"),
    ),
    Filter(
        "supplier",
        forms.CharField(required=False, max_length=255, widget=SuggestInput("supplier")),
        _named(Supplier, "supplier_id"),
    ),
    Filter(
        "category",
        forms.CharField(label="Business category", required=False, max_length=255),
        _named(BusinessCategory, "category_id"),
    ),
    Filter(
        "area",
        forms.CharField(label="Area of delivery", required=False, max_length=255),
        _named(Area, "area_id"),
    ),
    Filter(
        "mode",
        forms.CharField(label="Procurement mode", required=False, max_length=150),
        lambda mode: Q(procurement_mode=mode),
    ),
    Filter(
        "method",
        forms.ChoiceField(label="Procurement method", required=False, choices=modes.CHOICES),
        modes.method_q,
    ),
    Filter(
        "date_from",
        forms.DateField(label="Awarded from", required=False, widget=DATE_WIDGET),
        lambda day: Q(award_date__gte=day),
    ),
    Filter(
        "date_to",
        forms.DateField(label="Awarded to", required=False, widget=DATE_WIDGET),
        lambda day: Q(award_date__lte=day),
    ),
    Filter(
        "month",
        forms.TypedChoiceField(
            label="Award month",
            required=False,
            coerce=int,
            empty_value=None,
            choices=[("", "Any"), *[(str(m), calendar.month_name[m]) for m in range(1, 13)]],
        ),
        lambda month: Q(award_date__month=month),
    ),
    Filter("amount_min", _amount("Amount from (PHP)"), lambda amount: Q(amount__gte=amount)),
    Filter("amount_max", _amount("Amount to (PHP)"), lambda amount: Q(amount__lte=amount)),
    Filter(
        "status",
        forms.CharField(label="Award status", required=False, max_length=50),
        lambda status: Q(status=status),
    ),
    Filter(
        "flag",
        FlagField(
            label="Indicator",
            required=False,
            widget=FlagSelect(),
            help_text="Awards carrying every indicator picked (Ctrl or Cmd to pick several).",
        ),
        _flagged,
    ),
    Filter("sort", forms.ChoiceField(label="Sort", required=False, choices=SORT_CHOICES), None),
    Filter(
        "set",
        forms.UUIDField(
            label="Result set",
            required=False,
            widget=forms.HiddenInput,
            help_text="The matches of a scan job; only its owner may search them.",
        ),
        lambda set_id: Q(id__in=ResultSetMember.objects.filter(set_id=set_id).values("award_id")),
    ),
)
FILTER_NAMES = tuple(f.name for f in FILTERS)
FILTER_LABELS = {f.name: str(f.field.label or f.name.capitalize()) for f in FILTERS}


def json_filter_data(value: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Filters sent as a JSON object, as SearchForm data, and the type errors by name.

    Every filter is a string (null: not set); amounts may also be JSON numbers, and `flag`
    a list of code strings. Other objects, lists and booleans are refused rather than
    stringified: `{"q": {"$ne": 1}}` is not a keyword search for the text `{'$ne': 1}`.
    """
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, item in value.items():
        field = SearchForm.base_fields.get(name)
        numeric = isinstance(field, forms.DecimalField)
        listed = isinstance(field, FlagField)
        if item is None:
            data[name] = ""
        elif isinstance(item, str):
            data[name] = item
        elif numeric and isinstance(item, int | float) and not isinstance(item, bool):
            data[name] = repr(item) if isinstance(item, float) else str(item)
        elif listed and isinstance(item, list) and all(isinstance(code, str) for code in item):
            data[name] = item
        elif numeric:
            errors[name] = "Send a number or a string."
        else:
            errors[name] = "Send a list of strings or a string." if listed else "Send a string."
    return data, errors


class SearchForm(forms.BaseForm):
    """The search filters of FILTERS, validated; `user` owns the result sets it may name."""

    base_fields = {f.name: f.field for f in FILTERS}

    def __init__(
        self, data: Mapping[str, Any] | None = None, *, user: User | AnonymousUser | None = None
    ) -> None:
        super().__init__(data)
        self.user = user

    def clean_q(self) -> str:
        value = self.cleaned_data["q"]
        if "\x00" in value:
            raise forms.ValidationError("Keywords cannot contain a NUL character.")
        return " ".join(value.split())

    def clean_set(self) -> Any:
        value = self.cleaned_data["set"]
        if value is not None and not ResultSet.owned_by(self.user, value):
            raise forms.ValidationError(RESULT_SET_GONE)
        return value

    def clean_amount_min(self) -> Decimal | None:
        return _plain(self.cleaned_data["amount_min"])

    def clean_amount_max(self) -> Decimal | None:
        return _plain(self.cleaned_data["amount_max"])

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
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

    @cached_property
    def search(self) -> Search:
        """The parsed search (only for a valid form)."""
        if not self.is_valid():
            raise ValueError("the search filters are not valid")
        return Search(self.cleaned_data)


class Search:
    """One validated search: what the page, its pages and facets, and the jobs read."""

    def __init__(self, cleaned: Mapping[str, Any]) -> None:
        self.cleaned = cleaned
        self.filters = active_filters(cleaned)
        self.sort = effective_sort(cleaned)

    def awards(self) -> QuerySet[Award]:
        return awards_matching(self.cleaned)

    def url(self, changes: Mapping[str, str | None] | None = None, /, **state: str) -> str:
        """This search's page URL; `changes` set filters, or remove them when None. `state`
        is the page's own place (PAGE_STATE: a keyset cursor, the page number, the facet
        shown in full): a change of filters always starts again from the first page."""
        filters = {**self.filters, **(changes or {})}
        return search_url({name: value for name, value in filters.items() if value}, **state)

    def chips(self) -> list[Chip]:
        """The active filters in words, each with the URL of this search without it."""
        filters = self.filters
        result = []
        year = _year_of(filters)
        for name, value in filters.items():
            if year and name in ("date_from", "date_to"):
                if name == "date_from":
                    result.append(Chip(f"Award year: {year}", self.url({"date_from": None, "date_to": None})))
                continue
            result.append(Chip(f"{FILTER_LABELS[name]}: {_describe(name, value)}", self.url({name: None})))
        return result


@dataclass(frozen=True)
class Chip:
    """One active filter as the page shows it ("Area: NCR") and the link that removes it."""

    label: str
    remove_url: str


# The page's place in a result, beside the filters in its URL (search_url writes them last).
PAGE_STATE = ("after", "before", "page", "more")
SORT_LABELS = {
    "-date": "newest first",
    "date": "oldest first",
    "-amount": "amount, largest first",
    "amount": "amount, smallest first",
    "relevance": "best match",
}


def _describe(name: str, value: str) -> str:
    if name == "sort":
        return SORT_LABELS.get(value, value)
    if name in ("amount_min", "amount_max"):
        return f"PHP {Decimal(value):,}"
    if name == "set":
        return "matches of a scan"
    return value


def _year_of(filters: Mapping[str, str]) -> str:
    """The year when the date range is exactly one calendar year (the year facet's filter)."""
    start, end = filters.get("date_from", ""), filters.get("date_to", "")
    if start[:4].isdigit() and start[4:] == "-01-01" and end == f"{start[:4]}-12-31":
        return start[:4]
    return ""


def search_url(filters: Mapping[str, str], **state: str) -> str:
    """The search page's URL for these filters (in the fixed order of FILTER_NAMES), then
    the page state (PAGE_STATE) when given."""
    query = {name: filters[name] for name in FILTER_NAMES if filters.get(name)}
    query |= {name: state[name] for name in PAGE_STATE if state.get(name)}
    return f"{reverse('explorer:search')}?{urlencode(query)}" if query else reverse("explorer:search")


def _plain(value: Decimal | None) -> Decimal | None:
    """An amount without an exponent or a sign on zero: `0e999999`, `-0` and `1E+5` pass
    DecimalField's checks (finite, in range, at most two decimals) and become `0`, `0` and
    `100000`, as typed amounts are kept (`12.5` stays `12.5`)."""
    if value is None:
        return None
    if value.as_tuple().exponent > 0:  # type: ignore[operator]  # finite: checked by the field
        value = value.quantize(Decimal(1))
    return abs(value) if value == 0 else value


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
    conditions = Q()
    for f in FILTERS:
        value = cleaned.get(f.name)
        if f.condition is not None and value not in (None, ""):
            conditions &= f.condition(value)
    awards = Award.objects.filter(conditions)
    sort = effective_sort(cleaned)
    if sort == "relevance":
        query = SearchQuery(cleaned["q"], search_type="websearch", config="english")
        return awards.annotate(rank=SearchRank(F("search_vector"), query)).order_by("-rank", "-id")
    name, descending = SORTS[sort]
    if descending:
        return awards.order_by(F(name).desc(nulls_first=True), "-id")
    return awards.order_by(F(name).asc(nulls_last=True), "id")


def effective_sort(cleaned: Mapping[str, Any]) -> str:
    sort = cleaned.get("sort") or ("relevance" if cleaned.get("q") else "-date")
    if sort == "relevance" and not cleaned.get("q"):
        return "-date"
    return sort


class BadCursor(ValueError):
    pass


def keyset_page(
    awards: QuerySet[Award],
    *,
    search: Search,
    after: str = "",
    size: int = PAGE_SIZE,
    small: bool = False,
) -> tuple[list[Award], str]:
    """One page of an ordered result and the cursor of the next page ("" at the end).

    The cursor holds the last row's sort value and id, so page 10,000 costs what page 1
    does (no OFFSET). Relevance order uses a page number, bounded to MAX_RELEVANCE_PAGES.
    `small` says the result is known to hold at most a few thousand rows (a capped count,
    explorer/aggregates.py): they are then fetched and sorted rather than met along a sort
    index (_collect), and relevance ranks all of them instead of the newest
    RELEVANCE_CANDIDATES.
    """
    sort = search.sort
    if sort == "relevance":
        candidates = None
        if not small:
            newest = awards.order_by(F("award_date").desc(nulls_first=True), "-id").values("id")
            candidates = newest[:RELEVANCE_CANDIDATES]
        page = _int_cursor(after) if after else 0
        rows = _fetch(awards, page * size, page * size + size + 1, candidates=candidates)
        more = len(rows) > size and page + 1 < MAX_RELEVANCE_PAGES
        return rows[:size], str(page + 1) if more else ""
    name, descending = SORTS[sort]
    rows = _rows(awards, name, descending, after, size, small=small)
    if len(rows) <= size:
        return rows, ""
    return rows[:size], cursor_of(rows[size - 1], search=search)


def keyset_page_before(
    awards: QuerySet[Award],
    *,
    search: Search,
    before: str,
    size: int = PAGE_SIZE,
    small: bool = False,
) -> tuple[list[Award], bool]:
    """The page that ends just before the row of cursor `before` (the Previous page), in
    the search's order, and whether more rows come before it.

    It is the same keyset query in the reversed order: what precedes a row newest first
    follows it oldest first (nulls first descending are nulls last ascending), so it is
    as cheap at any depth as the Next page. Relevance order pages by number instead.
    """
    name, descending = SORTS[search.sort]
    column = F(name).asc(nulls_last=True) if descending else F(name).desc(nulls_first=True)
    flipped = awards.order_by(column, "id" if descending else "-id")
    rows = _rows(flipped, name, not descending, before, size, small=small)
    return rows[:size][::-1], len(rows) > size


def cursor_of(award: Award, *, search: Search) -> str:
    """The keyset cursor of a row: its sort value (empty for none) and id."""
    value = getattr(award, SORTS[search.sort][0])
    return (
        f"{'' if value is None else value.isoformat() if hasattr(value, 'isoformat') else value}~{award.id}"
    )


def _rows(
    awards: QuerySet[Award], name: str, descending: bool, after: str, size: int, *, small: bool
) -> list[Award]:
    if not small:
        walked = _walk(awards, name, descending, after, size)
        if walked is not None:
            return walked
    return _collect(awards, name, descending, after, size)


def _walk(awards: QuerySet[Award], name: str, descending: bool, after: str, size: int) -> list[Award] | None:
    """Up to `size` + 1 rows following `after`, met along the (name, id) index within the
    next WALK_WINDOWS rows of the whole order; None when they are not all there.

    A large result is usually met early along the sort index, but not when its matches all
    sit at the far end (5,012 matches of "2013 or ... or 2019", newest first: the walk of
    the whole index took 1.9 s); those are sorted instead (_collect). The walk is bounded
    by rows, not time: a time limit (150 ms) was reached under load by walks that take
    milliseconds on an idle machine, which then sorted every match as well (302 times in 5
    minutes of 40 analysts on 2M awards, bench/RESULTS.md). The first window is cheap to
    find and holds a page of any common word; the second one a page of any result over
    COUNT_CAP whose matches are spread over the order.
    """
    stretches = _remaining(name, F(name), descending, after) if after else _both_stretches(name, descending)
    for window in WALK_WINDOWS:
        end = _window_end(name, descending, stretches, window)
        rows: list[Award] = []
        for index, condition in enumerate(stretches):
            if end is not None and index > end[0]:
                break
            if end is not None and index == end[0]:
                condition &= _before(name, descending, end[1], end[2])
            rows += _fetch(awards.filter(condition), 0, size + 1 - len(rows))
            if len(rows) > size:
                return rows
        if end is None:  # the window held the rest of the order: these are all the rows
            return rows
    return None


def _both_stretches(name: str, descending: bool) -> list[Q]:
    """The whole order as its two stretches of one index range each: the rows without a
    value (first when descending) and those with one."""
    is_null, not_null = Q(**{f"{name}__isnull": True}), Q(**{f"{name}__isnull": False})
    return [is_null, not_null] if descending else [not_null, is_null]


def _window_end(name: str, descending: bool, stretches: list[Q], window: int) -> tuple[int, Any, int] | None:
    """The first row beyond the next `window` rows of the whole order (over every award,
    read from the (name, id) index alone): its stretch, sort value and id; None when the
    order ends first."""
    order: list[Any] = (
        [F(name).desc(nulls_first=True), "-id"] if descending else [F(name).asc(nulls_last=True), "id"]
    )
    left = window
    for index, condition in enumerate(stretches):
        beyond = list(
            Award.objects.filter(condition).order_by(*order).values_list(name, "id")[left : left + 1]
        )
        if beyond:
            return index, *beyond[0]
        left -= Award.objects.filter(condition).order_by()[:left].count()
    return None


def _before(name: str, descending: bool, value: Any, row_id: int) -> Q:
    """The rows that come before the row (`value`, `row_id`) in its stretch of the order."""
    if value is None:  # among the rows without a value, ordered by id
        return Q(id__gt=row_id) if descending else Q(id__lt=row_id)
    return Q(_RowLess((F(name), F("id")), (_typed(name, value), Value(row_id)), greater=descending))


def _typed(name: str, value: Any) -> Value:
    return Value(value, output_field=DateField() if name == "award_date" else DecimalField())


def _collect(awards: QuerySet[Award], name: str, descending: bool, after: str, size: int) -> list[Award]:
    """Up to `size` + 1 rows following the cursor `after`, the matches fetched and sorted.

    The order is on `name + 0`, which no index matches: cheaper than a walk of the (name,
    id) index when the matches are few, or all old under a newest-first sort, where the
    walk reads the whole index (2 s on 1M awards). The cursor's range is written on
    `name + 0` too, or PostgreSQL would intersect the matches with the (name, id) index
    range and read it in full.
    """
    key = _Unindexed(F(name))
    awards = awards.order_by(
        key.desc(nulls_first=True) if descending else key.asc(nulls_last=True),
        *(["-id"] if descending else ["id"]),
    )
    rows: list[Award] = []
    for condition in _remaining(name, key, descending, after):
        rows += _fetch(awards.filter(condition), 0, size + 1 - len(rows))
        if len(rows) > size:
            break
    return rows


def _fetch(awards: QuerySet[Award], start: int, stop: int, *, candidates: Any = None) -> list[Award]:
    """Rows `start:stop` of an ordered result (picked among `candidates`, a subquery of
    ids, when given), with whatever it joins (select_related).

    The ids are picked on the award table alone and only those rows are joined: with the
    joins in the same query PostgreSQL joined every match to its agency and supplier before
    sorting (12,000 matches of a phrase, 150 ms), since a LIMIT cannot move below a join.
    """
    picked = awards if candidates is None else awards.filter(id__in=candidates)
    return list(awards.filter(id__in=picked.values("id")[start:stop]))


class _Unindexed(Func):
    """`x + 0`: the same value and order as `x`, but no index matches the expression."""

    template = "(%(expressions)s + 0)"


class _RowLess(Func):
    """`(a, b) < (x, y)` (or `>`): PostgreSQL reads a row comparison as one position in the
    (a, b) index and starts the scan there; the equivalent `a < x OR (a = x AND b < y)` is
    a filter, so a deep keyset page walked every row before it (page 10,000: 500,000 rows).
    A NULL `a` makes the comparison NULL: those rows are paged separately (_remaining)."""

    output_field = BooleanField()

    def __init__(self, left: tuple[Any, Any], right: tuple[Any, Any], *, greater: bool = False) -> None:
        super().__init__(*left, *right)
        self.operator = ">" if greater else "<"

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]  # the stubs of Func and BaseExpression disagree
        parts, params = [], []
        for expression in self.get_source_expressions():
            sql, expression_params = compiler.compile(expression)
            parts.append(sql)
            params += expression_params
        return f"({parts[0]}, {parts[1]}) {self.operator} ({parts[2]}, {parts[3]})", params


def _remaining(name: str, key: Any, descending: bool, cursor: str) -> list[Q]:
    """The conditions selecting what follows `cursor`, one per stretch of the order.

    Nulls come first when descending and last when ascending; each stretch is read with
    its own query, in order, until a page is full, so every query is one index range.
    """
    if not cursor:
        return [Q()]
    raw, _, raw_id = cursor.rpartition("~")
    last_id = _int_cursor_id(raw_id)
    is_null, not_null = Q(**{f"{name}__isnull": True}), Q(**{f"{name}__isnull": False})
    if raw == "":
        if descending:  # still among the nulls, then every value from the top
            return [is_null & Q(id__lt=last_id), not_null]
        return [is_null & Q(id__gt=last_id)]
    pattern = DATE_CURSOR if name == "award_date" else AMOUNT_CURSOR
    if not pattern.fullmatch(raw):
        raise BadCursor(cursor)
    try:
        value = _typed(name, dt.date.fromisoformat(raw) if name == "award_date" else Decimal(raw))
    except ValueError:  # a date such as 2024-02-30
        raise BadCursor(cursor) from None
    position = _RowLess((key, F("id")), (value, Value(last_id)), greater=not descending)
    return [Q(position)] if descending else [Q(position), is_null]


def _int_cursor(text: str) -> int:
    if not PAGE_CURSOR.fullmatch(text) or int(text) >= MAX_RELEVANCE_PAGES:
        raise BadCursor(text)
    return int(text)


def _int_cursor_id(text: str) -> int:
    # str.isdigit() admits "²" and "٣", which int() then refuses or reads; ids are bigint.
    if not ID_CURSOR.fullmatch(text) or int(text) > MAX_ID:
        raise BadCursor(text)
    return int(text)
