"""Risk profiles of organizations and suppliers: each screening component's value, count
and share against the peers of the same kind and size class, and a composite screening
score, the mean of the components' scores (as opentender.eu builds its index).

A component's score is 100 x (1 - its percentile among the peers): 100 where the entity
is the lowest of its peers, 0 where it is the highest. Flagged above the peers' upper
fence (Q3 + 1.5 IQR). Screening, not a verdict: a low score says where to read first.

`refresh()` recomputes every profile over all awards (a few full scans: the background
task `explorer.tasks.refresh_profiles`, beat every PROFILE_REFRESH_HOURS, and the
`refresh_profiles` command); the entity pages read one RiskProfile row.

Components plug in through MEASURES: a key, a label, what it measures, a function
computing {(kind, entity id): {"value", "count", "of"}} over the awards, and the searches
behind each number. The process indicators of issue 18 add one Measure each (the share of
an entity's processes carrying the flag).
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import CharField, Count, Q, QuerySet
from django.db.models.functions import Cast, Floor, Left
from django.utils import timezone

from explorer import redflags
from explorer.analyses import screens
from explorer.models import Award, PeerBaseline, RiskProfile

KINDS = screens.KINDS
BENFORD_MIN_AWARDS = 100  # fewer awards say little about digit frequencies, even against peers
Values = dict[tuple[str, int], dict[str, Any]]
Links = Callable[[str], list[tuple[str, dict[str, str]]]]  # kind -> [(label, extra filters)]


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    describe: str
    compute: Callable[[QuerySet[Award]], Values]
    links: Links = field(default=lambda kind: _own_awards(kind))


def _own_awards(kind: str) -> list[tuple[str, dict[str, str]]]:
    return [("its awards", {})]


def _fixed_links(filters: dict[str, str]) -> Links:
    def links(kind: str) -> list[tuple[str, dict[str, str]]]:
        return [("the awards", filters)]

    return links


def _from_screens(awards: QuerySet[Award], rows: list[screens.EntityRow] | None = None) -> dict[str, Values]:
    rows = screens.measure(awards) if rows is None else rows
    result: dict[str, Values] = {c.key: {} for c in screens.COMPONENTS}
    for row in rows:
        for c in screens.COMPONENTS:
            value = row[c.value]
            if value is None:
                continue
            entry: dict[str, Any] = {"value": value}
            if c.successes:
                entry |= {"count": row[c.successes], "of": row[c.trials]}
            if c.key == "noncompetitive":
                entry |= {"value_share": row["nc_value_share"], "amount": row["nc_amount"]}
            result[c.key][(row["kind"], row["id"])] = entry
    return result


def _screen(key: str) -> Callable[[QuerySet[Award]], Values]:
    def compute(awards: QuerySet[Award]) -> Values:
        return _from_screens(awards)[key]

    return compute


def _windows() -> Q:
    q = Q(pk__in=[])
    for t in settings.REPORT_THRESHOLDS:
        q |= Q(amount__gte=Decimal(t) * Decimal("0.9"), amount__lt=t)
    return q


def _bunching(awards: QuerySet[Award]) -> Values:
    """The share of an entity's awards just below a threshold ([t - 10 %, t))."""
    values: Values = {}
    for kind, column in (("organization", "organization_id"), ("supplier", "supplier_id")):
        rows = (
            awards.exclude(**{f"{column}__isnull": True})
            .values(column)
            .annotate(n=Count("id"), below=Count("id", filter=_windows()))
            .filter(n__gte=screens.MIN_AWARDS)
            .values_list(column, "n", "below")
        )
        for entity, n, below in rows:
            values[(kind, entity)] = {"value": below / n, "count": below, "of": n}
    return values


def _benford(awards: QuerySet[Award]) -> Values:
    """The first-digit MAD against Benford's law, for entities with BENFORD_MIN_AWARDS."""
    values: Values = {}
    digits = awards.filter(amount__gte=10).annotate(digit=Left(Cast(Floor("amount"), CharField()), 1))
    for kind, column in (("organization", "organization_id"), ("supplier", "supplier_id")):
        counts: dict[int, dict[int, int]] = defaultdict(dict)
        eligible = (
            awards.filter(amount__gte=10)
            .exclude(**{f"{column}__isnull": True})
            .values(column)
            .annotate(n=Count("id"))
            .filter(n__gte=BENFORD_MIN_AWARDS)
            .values(column)
        )
        for entity, digit, n in (
            digits.filter(**{f"{column}__in": eligible})
            .values(column, "digit")
            .annotate(n=Count("id"))
            .values_list(column, "digit", "n")
        ):
            counts[entity][int(digit)] = n
        for entity, by_digit in counts.items():
            values[(kind, entity)] = {"value": redflags.benford_mad(by_digit), "of": sum(by_digit.values())}
    return values


def _band_links(kind: str) -> list[tuple[str, dict[str, str]]]:
    return [
        (f"just below PHP {t:,}", {"amount_min": f"{t * 0.9:.2f}", "amount_max": f"{t - 0.01:.2f}"})
        for t in settings.REPORT_THRESHOLDS
    ]


_SCREENS = {c.key: c for c in screens.COMPONENTS}
MEASURES: tuple[Measure, ...] = (
    *(
        Measure(c.key, c.label, c.describe, _screen(c.key), _fixed_links(c.filters))
        for c in screens.COMPONENTS
    ),
    Measure(
        "bunching",
        "Amounts just below thresholds",
        "share of its awards within 10 % below a procurement threshold",
        _bunching,
        _band_links,
    ),
    Measure(
        "benford",
        "First digits (Benford MAD)",
        f"mean absolute deviation of its first digits from Benford's law ({BENFORD_MIN_AWARDS}+ awards)",
        _benford,
    ),
)


def refresh(awards: QuerySet[Award] | None = None) -> PeerBaseline:
    """Recompute every risk profile and the peer baseline over `awards` (all of them)."""
    started = time.monotonic()
    awards = (awards if awards is not None else Award.objects.all()).order_by()
    rows = screens.measure(awards)
    screened = _from_screens(awards, rows)  # one query for the three screens
    values: dict[str, Values] = {
        m.key: screened[m.key] if m.key in screened else m.compute(awards) for m in MEASURES
    }
    sizes = {(r["kind"], r["id"]): (r["awards"], r["size_class"]) for r in rows}
    # Peers: every entity with a profile, by kind and size class.
    distributions: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for key, per_entity in values.items():
        for entity, entry in per_entity.items():
            if entity in sizes:
                distributions[(entity[0], sizes[entity][1], key)].append(entry["value"])
    for numbers in distributions.values():
        numbers.sort()
    peers: dict[str, dict[str, dict[str, dict[str, float]]]] = {kind: {} for kind in KINDS}
    for (kind, size, key), numbers in distributions.items():
        peers[kind].setdefault(size, {})[key] = redflags.upper_fence(numbers)
    profiles = []
    for entity, (n, size) in sizes.items():
        components: dict[str, Any] = {}
        for m in MEASURES:
            found = values[m.key].get(entity)
            if found is None:
                continue
            entry = found
            numbers = distributions[(entity[0], size, m.key)]
            baseline = peers[entity[0]][size][m.key]
            below = bisect.bisect_left(numbers, entry["value"])
            ties = bisect.bisect_right(numbers, entry["value"]) - below
            percentile = (below + ties / 2) / len(numbers)
            enough = len(numbers) >= screens.MIN_PEERS
            components[m.key] = entry | {
                "peers": baseline,
                "percentile": percentile if enough else None,
                "score": 100 * (1 - percentile) if enough else None,
                "flag": enough and entry["value"] > baseline["fence"] and entry["value"] > baseline["median"],
            }
        scores = [c["score"] for c in components.values() if c["score"] is not None]
        profiles.append(
            RiskProfile(
                kind=entity[0], entity_id=entity[1], awards=n, size_class=size,
                score=sum(scores) / len(scores) if scores else None, components=components,
            )
        )  # fmt: skip
    with transaction.atomic():
        RiskProfile.objects.all().delete()
        RiskProfile.objects.bulk_create(profiles, batch_size=2000)
        PeerBaseline.objects.all().delete()
        return PeerBaseline.objects.create(
            computed_at=timezone.now(),
            awards=awards.count(),
            seconds=time.monotonic() - started,
            peers=peers,
        )


def current() -> PeerBaseline | None:
    return PeerBaseline.objects.order_by("-computed_at").first()


def is_stale(baseline: PeerBaseline | None) -> bool:
    if baseline is None:
        return True
    return timezone.now() - baseline.computed_at > timedelta(hours=settings.PROFILE_REFRESH_HOURS)


def page(kind: str, entity_id: int, name: str, search: Callable[..., str]) -> dict[str, Any]:
    """The risk profile section of an entity page: its components with their searches."""
    baseline = current()
    profile = RiskProfile.objects.filter(kind=kind, entity_id=entity_id).first()
    rows = []
    if profile is not None:
        for m in MEASURES:
            c = profile.components.get(m.key)
            if c is None:
                continue
            links = [(label, search(**{kind: name}, **extra)) for label, extra in m.links(kind)]
            rows.append({"key": m.key, "label": m.label, "describe": m.describe, "links": links, **c})
    return {
        "baseline": baseline,
        "profile": profile,
        "rows": rows,
        "min_awards": screens.MIN_AWARDS,
        "stale": is_stale(baseline),
    }
