"""Open Contracting Data Standard 1.1: identity, and the release of a notice.

One release per notice (a contracting process), core OCDS 1.1.5 only, no extensions
(REFERENCE.md section 7 has the mappings and rules).

Identity: `ocid = OCDS_OCID_PREFIX + "-" + Bid Reference No.`. Notices without a
reference number (most negotiated and direct modes) are keyed by their award number or by
a fingerprint of their columns (explorer/philgeps.py notice_key); they get `-n` and their
32-digit natural key instead, which no reference number (digits only) can equal, and
which stays the same across re-imports and rebuilds. Parties get ids from their
normalised names (`party_id`), never from the random public ids. A release's `id` is a
hash of the rest of its content, so it changes exactly when the content does.

Releases are built in batches of notices (`releases_of`, three queries per batch) from
any iterable of notice ids, so an export of millions streams in flat memory
(`notice_ids` reads the ids through a server-side cursor). Values are never `null`,
empty strings, arrays or objects: a field without a value is left out. Amounts are
written with their exact decimal digits (orjson.Fragment).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from functools import lru_cache
from itertools import islice
from typing import Any
from uuid import UUID

import orjson
from django.conf import settings
from django.db import connection, connections
from django.db.models import Exists, OuterRef, Q, QuerySet

from explorer.models import Award, LineItem, Notice

PLACEHOLDER_PREFIX = "ocds-xxxxxx"
OCID_PREFIX_SHAPE = r"^ocds-[a-z0-9]{6}$"
CURRENCY = "PHP"
ZONE = "+08:00"  # PhilGEPS publishes in Philippine time
BATCH_NOTICES = 1000
FALLBACK_DATE = dt.date(2000, 1, 1)  # a notice without any date at all (none in the real files)

# REFERENCE.md section 7: PhilGEPS texts to the closed codelists.
TENDER_STATUS = {
    "awarded": "complete",
    "closed": "active",
    "cancelled": "cancelled",
    "failed": "unsuccessful",
}
# Checked in this order, by a lower-cased substring of the procurement mode.
METHODS = (
    ("international competitive bidding", "open"),
    ("public bidding", "open"),
    ("limited source", "selective"),
    ("competitive dialogue", "selective"),
    ("two failed", "limited"),
    ("shopping", "limited"),
    ("small value", "limited"),
    ("emergency", "limited"),
    ("take-over", "limited"),
    ("take over", "limited"),
    ("community", "limited"),
    ("ngo", "limited"),
    ("united nations", "limited"),
    ("direct contracting", "direct"),
    ("repeat order", "direct"),
    ("agency to agency", "direct"),
    ("lease", "direct"),
    ("defense", "direct"),
    ("highly technical", "direct"),
    ("scientific", "direct"),
    ("direct retail", "direct"),
    ("renewal", "direct"),
    ("adjacent", "direct"),
)
CATEGORIES = (
    ("goods - general support", "services"),
    ("consulting", "services"),
    ("civil works", "works"),
    ("goods", "goods"),
)


def ocid(*, reference_number: str, key: UUID | str) -> str:
    """The ocid of the notice with this reference number (may be blank) and natural key."""
    prefix = settings.OCDS_OCID_PREFIX
    if reference_number:
        return f"{prefix}-{reference_number}"
    hex_key = key.hex if isinstance(key, UUID) else str(key).replace("-", "")
    return f"{prefix}-n{hex_key}"


def notice_for_ocid(value: str) -> QuerySet[Notice]:
    """The notice (none or one) whose ocid is `value`."""
    prefix = settings.OCDS_OCID_PREFIX + "-"
    if not value.startswith(prefix):
        return Notice.objects.none()
    rest = value[len(prefix) :]
    if rest.startswith("n") and len(rest) == 33:
        try:
            return Notice.objects.filter(key=UUID(rest[1:]), reference_number="")
        except ValueError:
            return Notice.objects.none()
    if not rest or len(rest) > 32:
        return Notice.objects.none()
    return Notice.objects.filter(reference_number=rest)


def party_id(role_scope: str, name: str) -> str:
    """A stable OCDS party id from an organisation's name (never its random public id).

    `role_scope` is "org" for procuring entities and "sup" for suppliers/tenderers: the same
    name on both sides stays two parties only if PhilGEPS lists it so. Stable across files
    and rebuilds, as Cardinal groups by it.
    """
    digest = hashlib.sha256(" ".join(name.upper().split()).encode()).hexdigest()[:16]
    return f"PH-PGEPS-{role_scope}-{digest}"


# Names repeat across releases (an agency's every notice): hash each once per process.
_cached_party_id = lru_cache(maxsize=65536)(party_id)


@lru_cache(maxsize=1024)
def method(mode: str) -> str | None:
    lowered = mode.lower()
    return next((code for text, code in METHODS if text in lowered), None)


@lru_cache(maxsize=1024)
def category(classification: str) -> str | None:
    lowered = classification.lower()
    return next((code for text, code in CATEGORIES if lowered.startswith(text)), None)


def start(day: dt.date | None) -> str | None:
    return f"{day.isoformat()}T00:00:00{ZONE}" if day else None


def end(day: dt.date | None) -> str | None:
    return f"{day.isoformat()}T23:59:59{ZONE}" if day else None


def number(value: Decimal | None) -> orjson.Fragment | None:
    """A JSON number with the value's exact digits (no float rounding)."""
    return None if value is None else orjson.Fragment(format(value, "f"))


def money(value: Decimal | None) -> dict[str, Any] | None:
    return None if value is None else {"amount": number(value), "currency": CURRENCY}


def _pruned(value: Mapping[str, Any]) -> dict[str, Any]:
    """`value` without None, "" and empty containers (the validator reports them).

    Exact type checks, not isinstance(Mapping): this runs for every field of every release.
    """
    out = {}
    for key, item in value.items():
        kind = type(item)
        if kind is dict:
            item = _pruned(item)
            if not item:
                continue
        elif kind is list:
            kept = []
            for x in item:
                if type(x) is dict:
                    x = _pruned(x)
                    if not x:
                        continue
                elif x is None or x == "":
                    continue
                kept.append(x)
            if not kept:
                continue
            item = kept
        elif item is None or item == "":
            continue
        out[key] = item
    return out


def release_date(notice: Mapping[str, Any], awards: Iterable[Mapping[str, Any]]) -> dt.date:
    """The latest of the notice's publication and its awards' publication (or award) dates;
    `?since=` filters on the same (`since_condition`)."""
    days = [notice["published_date"], *(a["published_date"] or a["award_date"] for a in awards)]
    known = [day for day in days if day]
    if known:
        return max(known)
    return notice["closing_date"] or FALLBACK_DATE


def since_condition(since: dt.date) -> Q:
    """Notices whose release date (release_date) is on or after `since`."""
    later_award = Award.objects.filter(notice=OuterRef("pk")).filter(
        Q(published_date__gte=since) | Q(published_date__isnull=True, award_date__gte=since)
    )
    return Q(published_date__gte=since) | Q(Exists(later_award))


NOTICE_FIELDS = (
    "id",
    "key",
    "reference_number",
    "title",
    "classification",
    "procurement_mode",
    "approved_budget",
    "funding_source",
    "published_date",
    "closing_date",
    "status",
    "bidders",
    "organization__name",
    "organization__region",
    "organization__province",
    "organization__city",
)
AWARD_FIELDS = (
    "id",
    "notice_id",
    "key",
    "award_number",
    "title",
    "amount",
    "contract_number",
    "unspsc_code",
    "unspsc_description",
    "published_date",
    "award_date",
    "effectivity_date",
    "end_date",
    "supplier__name",
    "supplier__country",
    "supplier__region",
    "supplier__city",
)
ITEM_FIELDS = ("key", "notice_id", "award_id", "line_number", "name", "description", "quantity", "uom")


def notice_ids(notices: QuerySet[Any]) -> Iterator[int]:
    """The ids of `notices` (a Notice queryset, or a values list of notice ids), ascending,
    through a server-side cursor."""
    ids = notices.order_by("id").values_list("id", flat=True) if notices.model is Notice else notices
    return ids.iterator(chunk_size=5000)


def notices_of_awards(awards: QuerySet[Award]) -> QuerySet[Any]:
    """The distinct notice ids behind `awards`, ascending."""
    return awards.order_by("notice_id").values_list("notice_id", flat=True).distinct()


def releases(ids: Iterable[int]) -> Iterator[tuple[dict[str, Any], int]]:
    """(release, number of awards) for each notice id, in batches of BATCH_NOTICES.

    A thread (with its own database connection) fetches the next batch's rows while this
    one is mapped, so the database's time and Python's overlap.
    """
    iterator = iter(ids)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocds-fetch") as pool:
        try:
            batch = list(islice(iterator, BATCH_NOTICES))
            pending = pool.submit(_rows_of, batch) if batch else None
            while pending is not None:
                rows = pending.result()
                batch = list(islice(iterator, BATCH_NOTICES))
                pending = pool.submit(_rows_of, batch) if batch else None
                yield from _releases_from(*rows)
        finally:
            pool.submit(connections.close_all).result()


def _rows_of(batch: list[int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    return (
        _fetch("notices", NOTICE_FIELDS, batch),
        _fetch("awards", AWARD_FIELDS, batch),
        _fetch("items", ITEM_FIELDS, batch),
    )


def _batch_query(rows: QuerySet[Any], fields: Sequence[str]) -> tuple[str, tuple[Any, ...]]:
    """The SQL of `rows` (filtered by `<fk>__in=[-1]`) with `= ANY(%s)` for the IN list, so a
    batch of ids is one array parameter (Django spends ~2 µs per IN placeholder)."""
    sql, params = rows.values_list(*fields).query.sql_with_params()
    assert sql.count(" IN (%s)") == 1, sql
    assert params.count(-1) == 1, sql
    return sql.replace(" IN (%s)", " = ANY(%s)"), params


_QUERIES: dict[str, tuple[str, tuple[Any, ...]]] = {}


def _query(name: str) -> tuple[str, tuple[Any, ...]]:
    if name not in _QUERIES:
        if name == "notices":
            _QUERIES[name] = _batch_query(Notice.objects.filter(id__in=[-1]).order_by("id"), NOTICE_FIELDS)
        elif name == "awards":
            awards = Award.objects.filter(notice_id__in=[-1]).order_by("notice_id", "id")
            _QUERIES[name] = _batch_query(awards, AWARD_FIELDS)
        else:
            items = LineItem.objects.filter(notice_id__in=[-1]).order_by("notice_id", "line_number", "id")
            _QUERIES[name] = _batch_query(items, ITEM_FIELDS)
    return _QUERIES[name]


def _fetch(name: str, fields: Sequence[str], batch: list[int]) -> list[dict[str, Any]]:
    sql, params = _query(name)
    with connection.cursor() as cursor:
        cursor.execute(sql, [batch if p == -1 else p for p in params])
        return [dict(zip(fields, row, strict=True)) for row in cursor.fetchall()]


def releases_of(batch: list[int]) -> Iterator[tuple[dict[str, Any], int]]:
    """(release, number of awards) for each of these notice ids, in this thread."""
    return _releases_from(*_rows_of(batch))


def _releases_from(
    notices: list[dict[str, Any]], award_rows: list[dict[str, Any]], item_rows: list[dict[str, Any]]
) -> Iterator[tuple[dict[str, Any], int]]:
    awards: dict[int, list[dict[str, Any]]] = {}
    for award in award_rows:
        awards.setdefault(award["notice_id"], []).append(award)
    items: dict[int, list[dict[str, Any]]] = {}
    for item in item_rows:
        items.setdefault(item["notice_id"], []).append(item)
    for notice in notices:
        its_awards = awards.get(notice["id"], [])
        yield release(notice, its_awards, items.get(notice["id"], [])), len(its_awards)


def _c(**fields: Any) -> dict[str, Any]:
    """An object of the fields that have a value (no None, "", {} or []): built bottom-up,
    so an object whose fields are all empty is itself empty and left out above."""
    return {key: value for key, value in fields.items() if value}


def release(
    notice: Mapping[str, Any], awards: Sequence[Mapping[str, Any]], items: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The release of one notice (rows as NOTICE_FIELDS, AWARD_FIELDS, ITEM_FIELDS name them)."""
    parties: dict[str, dict[str, Any]] = {}

    def party(scope: str, name: str, role: str, address: dict[str, Any] | None = None) -> dict[str, str]:
        pid = _cached_party_id(scope, name)
        entry = parties.get(pid)
        if entry is None:
            entry = parties[pid] = _c(name=name, id=pid, roles=[role], address=address)
        elif role not in entry["roles"]:
            entry["roles"].append(role)
        return {"id": pid, "name": name}

    buyer_name = notice["organization__name"]
    address = _c(
        region=notice["organization__region"],
        locality=notice["organization__city"] or notice["organization__province"],
        countryName="Philippines",
    )
    buyer = party("org", buyer_name, "buyer", address)
    party("org", buyer_name, "procuringEntity")

    by_award: dict[int | None, list[Mapping[str, Any]]] = {}
    for item in items:
        by_award.setdefault(item["award_id"], []).append(item)
    unspsc = {a["id"]: (a["unspsc_code"], a["unspsc_description"]) for a in awards}

    tenderers = []
    for line in notice["bidders"].splitlines():
        name = " ".join(line.split())
        if name:
            ref = party("sup", name, "tenderer")
            if ref not in tenderers:
                tenderers.append(ref)

    out_awards = []
    contracts = []
    for award in awards:
        award_id = award["key"].hex
        suppliers = []
        if award["supplier__name"]:
            supplier_address = _c(
                region=award["supplier__region"],
                locality=award["supplier__city"],
                countryName=award["supplier__country"],
            )
            suppliers.append(party("sup", award["supplier__name"], "supplier", supplier_address))
        award_items = [_item(i, unspsc.get(i["award_id"])) for i in by_award.get(award["id"], [])]
        if not award_items and award["unspsc_code"]:
            code = (award["unspsc_code"], award["unspsc_description"])
            award_items = [
                _c(id="1", description=award["unspsc_description"], classification=_classification(code))
            ]
        value = money(award["amount"])
        out_awards.append(
            _c(
                id=award_id,
                title=award["title"] or (f"Award {award['award_number']}" if award["award_number"] else None),
                status="active",
                date=start(award["award_date"]),
                value=value,
                suppliers=suppliers,
                items=award_items,
            )
        )
        if award["contract_number"] or award["effectivity_date"] or award["end_date"]:
            contracts.append(
                _c(
                    id=award_id,
                    awardID=award_id,
                    title=f"Contract No. {award['contract_number']}" if award["contract_number"] else None,
                    value=value,
                    period=_c(startDate=start(award["effectivity_date"]), endDate=end(award["end_date"])),
                )
            )

    budget = money(notice["approved_budget"])
    tag = ["tender"] + (["award"] if out_awards else []) + (["contract"] if contracts else [])
    body = _c(
        ocid=ocid(reference_number=notice["reference_number"], key=notice["key"]),
        date=start(release_date(notice, awards)),
        tag=tag,
        initiationType="tender",
        parties=list(parties.values()),
        buyer=buyer,
        planning=_c(budget=_c(description=notice["funding_source"], amount=budget)) if budget else None,
        tender=_c(
            id=notice["reference_number"] or notice["key"].hex,
            title=notice["title"],
            status=TENDER_STATUS.get(notice["status"].lower()),
            procuringEntity=buyer,
            value=budget,
            procurementMethod=method(notice["procurement_mode"]),
            procurementMethodDetails=notice["procurement_mode"],
            mainProcurementCategory=category(notice["classification"]),
            tenderPeriod=_c(startDate=start(notice["published_date"]), endDate=end(notice["closing_date"])),
            items=[_item(i, unspsc.get(i["award_id"])) for i in items],
            tenderers=tenderers,
            numberOfTenderers=len(tenderers),
        ),
        awards=out_awards,
        contracts=contracts,
    )
    return with_id(body)


def _classification(code: tuple[str, str] | None) -> dict[str, str] | None:
    if not code or not code[0]:
        return None
    return _c(scheme="UNSPSC", id=code[0], description=code[1])


def _item(item: Mapping[str, Any], code: tuple[str, str] | None) -> dict[str, Any]:
    description = item["name"] or item["description"]
    if item["name"] and item["description"] and item["description"] != item["name"]:
        description = f"{item['name']}: {item['description']}"
    return _c(
        id=item["key"].hex,
        description=description,
        classification=_classification(code),
        quantity=number(item["quantity"]),
        unit=_c(name=item["uom"]),
    )


def with_id(body: dict[str, Any]) -> dict[str, Any]:
    """`body` with `id`: a hash of everything else, so it changes exactly when that does."""
    content = {key: value for key, value in body.items() if key != "id"}
    digest = hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()[:24]
    return {"ocid": content["ocid"], "id": f"{content['ocid']}-{digest}", **content}


def compiled(release_: Mapping[str, Any]) -> dict[str, Any]:
    """The compiled release of a process published as one release: its latest state."""
    return {**release_, "tag": ["compiled"]}


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def site_url(path: str) -> str:
    """An absolute URL on this site (OCDS_SITE_URL), for package metadata."""
    return settings.OCDS_SITE_URL.rstrip("/") + path


def package_metadata(*, uri: str, published: dt.datetime) -> dict[str, Any]:
    """A release package's metadata (without `releases`)."""
    return _pruned(
        {
            "uri": uri,
            "version": "1.1",
            "publishedDate": published.astimezone(dt.UTC)
            .isoformat(timespec="seconds")
            .replace("+00:00", "Z"),
            "publisher": {"name": settings.OCDS_PUBLISHER_NAME, "uri": settings.OCDS_PUBLISHER_URI},
            "license": settings.OCDS_LICENSE_URL or site_url("/data/#license"),
            "publicationPolicy": settings.OCDS_PUBLICATION_POLICY_URL or site_url("/data/#policy"),
        }
    )
