"""Explorer pages: search, award, organization and supplier. Queries live in search.py
and aggregates.py; these views only pick the template and its context."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.http import FileResponse, Http404, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import condition, require_GET
from django_htmx.http import push_url

from config.access import anonymous_search_limited, login_url, public
from config.handlers import Request
from explorer import aggregates, choices, facets, ocds, paging, profiles, publication, suggest, tasks
from explorer.indicators import INDICATORS, evidence
from explorer.models import Award, Notice, Organization, ResultSet, Supplier
from explorer.notices import NoticeForm, ocds_release_url
from explorer.search import FILTER_LABELS, BadCursor, SearchForm, search_url
from jobs import panel


@public
@anonymous_search_limited
@require_GET
def search(request: Request) -> HttpResponse:
    form = SearchForm(request.GET, user=request.user)
    choices.attach(form)
    if not form.is_valid():
        return _search_page(request, {"form": form}, status=400)
    search = form.search
    place = paging.place(request.GET, search=search)
    canonical = search.url(**place.state())
    if not request.htmx and any(value == "" for value in request.GET.values()):
        return redirect(canonical)  # a plain GET form sends every empty field: share a clean URL
    awards = search.awards()
    totals = aggregates.capped_totals(awards)
    small = not totals.timed_out and totals.value["exact"]
    context: dict[str, object] = {"form": form, "search": search}
    if search.cleaned.get("set"):
        context["result_set"] = ResultSet.objects.filter(pk=search.cleaned["set"]).first()
    status = 200
    try:
        pager = paging.page(
            awards.select_related("organization", "supplier"), search=search, place=place, small=small
        )
    except BadCursor:
        pager, status = paging.Pager(search=search), 400
        context["cursor_error"] = "This page link is broken; start again from the first page."
    counted = facets.count(search, awards, more=place.more)
    if totals.value and totals.value["exact"]:
        pager.total = totals.value["count"]
    context |= {
        "filters": search.filters,
        "chips": search.chips(),
        "unmatched": [
            {
                "label": FILTER_LABELS[field],
                "value": search.filters[field],
                "names": [(name, search.url({field: name})) for name in names],
            }
            for field, names in suggest.unmatched(search.filters).items()
        ],
        "filter_count": sum(name not in ("q", "sort", "set") for name in search.filters),
        "awards": pager.rows,
        "pager": pager,
        "totals": totals,
        "count_cap": aggregates.COUNT_CAP,
        # Past the cap the exact count and total come in a second request, after the page.
        "totals_url": ""
        if small or totals.timed_out
        else f"{reverse('explorer:search_totals')}?{urlencode(search.filters)}",
        "facets": counted,
        "facets_approximate": any(item.approximate for item in counted),
        "next_url": pager.next_url,
        "first_url": search.url(),
        **panel.for_search(user=request.user, search=search),
    }
    response = _search_page(request, context, status=status)
    if request.htmx:
        push_url(response, canonical)  # the address bar shows the clean, shareable URL
    return response


def _search_page(request: Request, context: dict[str, object], *, status: int) -> HttpResponse:
    # An HTMX request swaps the form with the results: both are drawn from the one URL.
    template = "explorer/_search.html" if request.htmx else "explorer/search.html"
    return render(request, template, context, status=status)


@public
@anonymous_search_limited
@require_GET
def suggest_names(request: Request, field: str) -> HttpResponse:
    """Name suggestions for the organization and supplier boxes, as <option>s for a datalist."""
    if field not in suggest.FIELDS:
        raise Http404
    names = suggest.names(field, request.GET.get(field, ""))
    return render(request, "explorer/_suggestions.html", {"names": names})


@public
@anonymous_search_limited
@require_GET
def search_totals(request: Request) -> HttpResponse:
    """The exact count and total amount of a large result (the search page loads it after
    the rows), under the aggregate statement timeout."""
    form = SearchForm(request.GET, user=request.user)
    if not form.is_valid():
        return HttpResponse("Invalid filters.", status=400)
    totals = aggregates.totals(form.search.awards())
    context = {"totals": totals, "count_cap": aggregates.COUNT_CAP, "deferred": True}
    if not request.htmx:  # the page's <noscript> link: a page of its own, back to the search
        context["search_url"] = search_url(form.search.filters)
        return render(request, "explorer/totals.html", context)
    return render(request, "explorer/_totals.html", context)


@public
@require_GET
def award(request: Request, public_id: str) -> HttpResponse:
    award = get_object_or_404(
        Award.objects.select_related("notice", "organization", "supplier", "category", "area"),
        public_id=public_id,
    )
    context = {"award": award, "shown": evidence.for_award(award), **_process(request, award.notice)}
    return render(request, "explorer/award.html", context)


def _process(request: Request, notice: Notice) -> dict[str, Any]:
    """What the award and notice pages show of their contracting process. The OCDS API
    answers logged-in users only: a visitor's link goes to it by the login page."""
    release = ocds_release_url(notice)
    anonymous = not request.user.is_authenticated
    return {
        "line_items": notice.line_items.all()[:500],
        "ocid": ocds.ocid(reference_number=notice.reference_number, key=notice.key),
        "ocds_url": login_url(release) if anonymous else release,
        "ocds_login": anonymous,
    }


@public
@require_GET
def notice(request: Request, key: str) -> HttpResponse:
    """A contracting process: its awards, line items, dates, bidders and indicators."""
    notice = get_object_or_404(Notice.objects.select_related("organization", "category", "area"), key=key)
    context = {
        "notice": notice,
        "awards": notice.awards.select_related("supplier").order_by("award_number", "id")[:500],
        "shown": evidence.for_notice(notice),
        **_process(request, notice),
    }
    return render(request, "explorer/notice.html", context)


@public
@anonymous_search_limited
@require_GET
def notices(request: Request) -> HttpResponse:
    """Notices (contracting processes), with or without awards, filtered by indicator."""
    form = NoticeForm(request.GET)
    if not form.is_valid():
        return render(request, "explorer/notices.html", {"form": form, "indicators": INDICATORS}, status=400)
    rows, next_url = form.page()
    context = {"form": form, "notices": rows, "next_url": next_url, "indicators": INDICATORS}
    return render(request, "explorer/notices.html", context)


@public
@require_GET
def organization(request: Request, public_id: str) -> HttpResponse:
    entity = get_object_or_404(Organization, public_id=public_id)
    summary = aggregates.entity_summary(Award.objects.filter(organization=entity), counterpart="supplier")
    return _entity_page(request, entity, summary, kind="Procuring entity", filter_name="organization")


@public
@require_GET
def supplier(request: Request, public_id: str) -> HttpResponse:
    entity = get_object_or_404(Supplier, public_id=public_id)
    summary = aggregates.entity_summary(Award.objects.filter(supplier=entity), counterpart="organization")
    return _entity_page(request, entity, summary, kind="Supplier", filter_name="supplier")


def _entity_page(
    request: Request,
    entity: Organization | Supplier,
    summary: aggregates.EntitySummary,
    *,
    kind: str,
    filter_name: str,
) -> HttpResponse:
    by_year = summary.by_year.value or []
    counterpart = "supplier" if filter_name == "organization" else "organization"
    base = {filter_name: entity.name}

    def linked(rows: aggregates.Bounded, field: str) -> aggregates.Bounded:
        """Each top row with the search of this entity's awards for that value."""
        value = [
            (name, n, amount, search_url({**base, field: name}) if name else "")
            for name, n, amount in rows.value or []
        ]
        return aggregates.Bounded(value=value, timed_out=rows.timed_out)

    profile = profiles.page(filter_name, entity.pk, entity.name, lambda **f: search_url({**base, **f}))
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
        "search_url": search_url(base),
        "profile": profile,
    }
    if profile["stale"]:
        tasks.request_refresh()
    return render(request, "explorer/entity.html", context)


@require_GET
def data(request: Request) -> HttpResponse:
    """The Data page: the published OCDS bulk files and how to use them (public, like
    the files: PhilGEPS publishes this data openly)."""
    index = publication.published_files()
    for entry in index["files"]:
        entry["url"] = reverse("explorer:data-file", args=[entry["name"]])
    return render(
        request,
        "explorer/data.html",
        {"index": index, "api_url": reverse("ocds-releases"), "site": ocds.site_url("")},
    )


def _file_modified(request: Request, name: str) -> dt.datetime | None:
    path = publication.path_of(name)
    return dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC) if path else None


@require_GET
@condition(last_modified_func=_file_modified)
def data_file(request: Request, name: str) -> HttpResponseBase:
    """A published OCDS file at its stable URL, with Last-Modified (304 when unchanged)."""
    path = publication.path_of(name)
    if path is None:
        raise Http404("No such file.")
    return FileResponse(path.open("rb"), as_attachment=True, filename=name, content_type="application/zip")
