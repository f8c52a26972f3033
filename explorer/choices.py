"""The values the category, area, mode and status filters offer, from the data, with counts.

A typed `awarded` found nothing (the data says `Awarded`): these filters are choices instead.
Each is one GROUP BY over all awards under the page statement timeout (COUNT(*), so the
column's index answers it alone), and the four are cached until new awards arrive (the
newest award is the cache key, so an import shows its new values at once) or CACHE_SECONDS
pass: an edit of existing awards shows in the counts within CACHE_SECONDS.

Counting is single-flight: one request, in whichever process, counts while the others wait
up to WAIT_SECONDS for its counts, then show the last counts made (before any, the text
boxes). A burst of page loads after an import or an expiry started a set of full-table
counts each, which timed out together under load (40 analysts on 2M awards: 126 cancelled
counts of each filter in 3 minutes, bench/RESULTS.md). A filter whose count timed out keeps
its last counts. The filter itself stays a text field: a link or a job may name a value the
list does not hold, which is then offered too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django import forms
from django.core.cache import cache
from django.db.models import Count, Model

from explorer import aggregates
from explorer.models import Area, Award, BusinessCategory

# filter name -> (award column, the model whose names the column holds, if any)
CHOICE_FILTERS: dict[str, tuple[str, type[Model] | None]] = {
    "category": ("category_id", BusinessCategory),
    "area": ("area_id", Area),
    "mode": ("procurement_mode", None),
    "status": ("status", None),
}
# The most frequent values offered per filter; the rest is reached by the facets' links.
LIMIT = 300
CACHE_SECONDS = 600
LAST = "explorer:filter-choices:last"
COUNTING = "explorer:filter-choices:counting"
COUNTING_SECONDS = 60  # the counting lock's expiry, should its request die
WAIT_SECONDS = 0.3


@dataclass(frozen=True)
class Options:
    """One filter's values as (value, number of awards), most frequent LIMIT, by name."""

    values: list[tuple[str, int]] = field(default_factory=list)
    truncated: bool = False
    timed_out: bool = False


def options() -> dict[str, Options]:
    """Every choice filter's options (cached; see the module docstring)."""
    newest = Award.objects.order_by("-id").values_list("id", "key").first() or (0, "")
    key = "explorer:filter-choices:{}:{}".format(*newest)
    found: dict[str, Options] | None = cache.get(key)
    if found is not None:
        return found
    last: dict[str, Options] = cache.get(LAST) or {}
    # add() is False both when another request holds the lock and when the cache is down;
    # only the first leaves its key readable (with the cache down, every request counts).
    if not cache.add(COUNTING, 1, timeout=COUNTING_SECONDS) and cache.get(COUNTING) is not None:
        return _counted_elsewhere(key) or {
            name: last.get(name, Options(timed_out=True)) for name in CHOICE_FILTERS
        }
    try:
        counted = {name: _count(column, names) for name, (column, names) in CHOICE_FILTERS.items()}
        found = {
            name: last[name] if opts.timed_out and name in last else opts for name, opts in counted.items()
        }
        # A timed-out count is tried again soon rather than kept for CACHE_SECONDS.
        timeout = 30 if any(o.timed_out for o in counted.values()) else CACHE_SECONDS
        cache.set(key, found, timeout)
        cache.set(LAST, found, None)
    finally:
        cache.delete(COUNTING)
    return found


def _counted_elsewhere(key: str) -> dict[str, Options] | None:
    """The counts another request is making, if they come within WAIT_SECONDS (on a small
    database, at once)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.02)
        found: dict[str, Options] | None = cache.get(key)
        if found is not None:
            return found
    return None


def _count(column: str, names: type[Model] | None) -> Options:
    rows = aggregates.bounded(
        lambda: list(
            Award.objects.order_by()
            .values(column)
            .annotate(n=Count("*"))
            .order_by("-n", column)
            .values_list(column, "n")[: LIMIT + 1]
        )
    )
    if rows.timed_out:
        return Options(timed_out=True)
    counted = rows.value[:LIMIT]
    if names is not None:
        by_id = dict(names._default_manager.filter(id__in=[v for v, _ in counted]).values_list("id", "name"))
        counted = [(by_id.get(v), n) for v, n in counted]
    values = sorted(
        ((str(v), n) for v, n in counted if v not in (None, "")), key=lambda item: item[0].lower()
    )
    return Options(values=values, truncated=len(rows.value) > LIMIT)


def attach(form: forms.BaseForm) -> None:
    """Make the form's choice filters drop-downs of the data's values, with counts. The value
    the form holds is always among them, so the form shows what its URL says."""
    found = options()
    for name, opts in found.items():
        if opts.timed_out:
            continue  # the text box stays: a filter nobody can set would be worse
        current = str(form.data.get(name, "") or "")
        choices = [("", "Any")] + [(value, f"{value} ({n:,})") for value, n in opts.values]
        if current and current not in {value for value, _ in opts.values}:
            choices.append((current, current))
        form.fields[name].widget = forms.Select(choices=choices)
