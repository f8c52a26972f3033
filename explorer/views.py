"""Explorer pages: search, award, organization and supplier. Queries live in search.py
and aggregates.py; these views only pick the template and its context."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET
from django_htmx.http import push_url

from explorer import aggregates, suggest
from explorer.models import Award, Organization, Supplier
from explorer.search import BadCursor, SearchForm, active_filters, awards_matching, keyset_page
from jobs import services
from jobs.models import Job
from jobs.views import search_actions_context


@login_required
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    status = 200
    context: dict[str, object] = {"form": form, "result_set": _result_set(request, form)}
    if form.is_valid():
        filters = active_filters(form.cleaned_data)
        canonical = _search_url(filters, after=request.GET.get("after", ""))
        if not request.htmx and any(value == "" for value in request.GET.values()):
            return redirect(canonical)  # a plain GET form sends every empty field: share a clean URL
        awards = awards_matching(form.cleaned_data)
        totals = aggregates.capped_totals(awards)
        small = not totals.timed_out and totals.value["exact"]
        try:
            rows, next_cursor = keyset_page(
                awards.select_related("organization", "supplier"),
                cleaned=form.cleaned_data,
                after=request.GET.get("after", ""),
                small=small,
            )
        except BadCursor:
            rows, next_cursor, status = [], "", 400
            context["cursor_error"] = "This page link is broken; start again from the first page."
        context |= {
            "filters": filters,
            "awards": rows,
            "totals": totals,
            "count_cap": aggregates.COUNT_CAP,
            # Past the cap the exact count and total come in a second request, after the page.
            "totals_url": ""
            if small or totals.timed_out
            else f"{reverse('explorer:search_totals')}?{urlencode(filters)}",
            "facets": _facet_links(aggregates.facets(awards, active=filters), filters),
            "next_url": _search_url(filters, after=next_cursor) if next_cursor else "",
            "first_url": _search_url(filters),
            "paged": bool(request.GET.get("after")),
        }
        context |= search_actions_context(request)
    else:
        status = 400
    if not request.htmx:
        return render(request, "explorer/search.html", context, status=status)
    response = render(request, "explorer/_results.html", context, status=status)
    if form.is_valid():
        push_url(response, canonical)  # the address bar shows the clean, shareable URL
    return response


def _result_set(request: HttpRequest, form: SearchForm) -> Job | None:
    """The scan job behind `?set=`, which must be the user's own (else a field error)."""
    if not form.is_valid() or not form.cleaned_data.get("set"):
        return None
    job = services.result_set_for_user(request.user, form.cleaned_data["set"])
    if job is None:
        form.add_error("set", services.RESULT_SET_GONE)
    return job


def _search_url(filters: dict[str, str], *, after: str = "") -> str:
    query = {**filters, "after": after} if after else filters
    return f"{reverse('explorer:search')}?{urlencode(query)}" if query else reverse("explorer:search")


@login_required
@require_GET
def suggest_names(request: HttpRequest, field: str) -> HttpResponse:
    """Name suggestions for the organization and supplier boxes, as <option>s for a datalist."""
    if field not in suggest.FIELDS:
        raise Http404
    names = suggest.names(field, request.GET.get(field, ""))
    return render(request, "explorer/_suggestions.html", {"names": names})


@login_required
@require_GET
def search_totals(request: HttpRequest) -> HttpResponse:
    """The exact count and total amount of a large result (the search page loads it after
    the rows), under the aggregate statement timeout."""
    form = SearchForm(request.GET)
    _result_set(request, form)
    if not form.is_valid():
        return HttpResponse("Invalid filters.", status=400)
    totals = aggregates.totals(awards_matching(form.cleaned_data))
    context = {"totals": totals, "count_cap": aggregates.COUNT_CAP, "deferred": True}
    return render(request, "explorer/_totals.html", context)


def _facet_links(facets: list[aggregates.Facet], filters: dict[str, str]) -> list[dict[str, object]]:
    """Each facet value with the URL that adds it (or, when active, removes it)."""
    result = []
    for facet in facets:
        values = []
        for value, count in facet.values:
            if facet.name == "year":
                changes = {"date_from": f"{value}-01-01", "date_to": f"{value}-12-31"}
                active = all(filters.get(k) == v for k, v in changes.items())
            else:
                changes = {facet.name: str(value)}
                active = filters.get(facet.name) == str(value)
            query = {k: v for k, v in filters.items() if k not in changes}
            if not active:
                query |= changes
            values.append({"value": value, "count": count, "active": active, "url": f"?{urlencode(query)}"})
        result.append({"facet": facet, "values": values})
    return result


@login_required
@require_GET
def award(request: HttpRequest, public_id: str) -> HttpResponse:
    award = get_object_or_404(
        Award.objects.select_related("notice", "organization", "supplier", "category", "area"),
        public_id=public_id,
    )
    return render(
        request, "explorer/award.html", {"award": award, "line_items": award.notice.line_items.all()[:500]}
    )


@login_required
@require_GET
def organization(request: HttpRequest, public_id: str) -> HttpResponse:
    entity = get_object_or_404(Organization, public_id=public_id)
    summary = aggregates.entity_summary(Award.objects.filter(organization=entity), counterpart="supplier")
    return _entity_page(request, entity, summary, kind="Procuring entity", filter_name="organization")


@login_required
@require_GET
def supplier(request: HttpRequest, public_id: str) -> HttpResponse:
    entity = get_object_or_404(Supplier, public_id=public_id)
    summary = aggregates.entity_summary(Award.objects.filter(supplier=entity), counterpart="organization")
    return _entity_page(request, entity, summary, kind="Supplier", filter_name="supplier")


def _entity_page(
    request: HttpRequest, entity: object, summary: aggregates.EntitySummary, *, kind: str, filter_name: str
) -> HttpResponse:
    by_year = summary.by_year.value or []
    counterpart = "supplier" if filter_name == "organization" else "organization"
    base = {filter_name: entity.name}  # type: ignore[attr-defined]

    def linked(rows: aggregates.Bounded, field: str) -> aggregates.Bounded:
        """Each top row with the search of this entity's awards for that value."""
        value = [
            (name, n, amount, _search_url({**base, field: name}) if name else "")
            for name, n, amount in rows.value or []
        ]
        return aggregates.Bounded(value=value, timed_out=rows.timed_out)

    context = {
        "counterparties": linked(summary.counterparties, counterpart),
        "categories": linked(summary.categories, "category"),
        "modes": linked(summary.modes, "mode"),
        "entity": entity,
        "by_year_chart": {
            "labels": [year for year, _, _ in by_year],
            "series": [{"label": "Amount (PHP)", "values": [amount or 0 for _, _, amount in by_year]}],
        },
        "summary": summary,
        "kind": kind,
        "counterpart_label": "Top suppliers" if filter_name == "organization" else "Top procuring entities",
        "search_url": _search_url(base),
    }
    return render(request, "explorer/entity.html", context)
