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

The mapping is one SQL query (`_release_sql`): PostgreSQL builds each release's JSON
text for a batch of notices (`releases_of`), so Python only joins and compresses bytes
(Python dictionaries per release cost about 8x the time: bench/RESULTS.md, issue 20).
Batches come from any iterable of notice ids, so an export of millions streams in flat
memory (`notice_ids` reads the ids through a server-side cursor). Values are never
`null`, empty strings, arrays or objects: a field without a value is left out. Amounts
keep their exact decimal digits (PostgreSQL writes numeric values as they are).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from itertools import islice
from typing import Any, NamedTuple
from uuid import UUID

import orjson
from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import QuerySet

from explorer.models import Award, Notice

PLACEHOLDER_PREFIX = "ocds-xxxxxx"
OCID_PREFIX_SHAPE = r"^ocds-[a-z0-9]{6}$"
CURRENCY = "PHP"
ZONE = "+08:00"  # PhilGEPS publishes in Philippine time
BATCH_NOTICES = 1000
FETCHERS = 2  # threads building batches (releases)
FALLBACK_DATE = dt.date(2000, 1, 1)  # a notice without any date at all (none in the real files)
# What separates the words of a name and the lines of a bidder list, in Python and in SQL.
_SPACES_SQL = r"[ \t\n\r\f\v]+"
_SPACES = re.compile(_SPACES_SQL)
_LINES_SQL = r"[\n\r\v\f]"

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
    name on both sides stays two parties only if PhilGEPS lists it so. The name is
    normalised as the release query does it in SQL (_party_sql): runs of ASCII white space
    to one space, trimmed, ASCII letters upper-cased (byte for byte the same in Python and
    in PostgreSQL whatever the database's locale), then hashed. Stable across files and
    rebuilds, as Cardinal groups by it.
    """
    normalised = _SPACES.sub(" ", name).strip(" ").encode().upper()
    return f"PH-PGEPS-{role_scope}-{hashlib.sha256(normalised).hexdigest()[:16]}"


def method_sql(lowered: str) -> str:
    """The OCDS procurementMethod of the lower-cased PhilGEPS mode in `lowered` (METHODS, in
    order)."""
    cases = " ".join(
        f"WHEN strpos({lowered}, {_quoted(text)}) > 0 THEN {_quoted(code)}" for text, code in METHODS
    )
    return f"CASE {cases} END"


def category_sql(lowered: str) -> str:
    """The OCDS mainProcurementCategory of the lower-cased PhilGEPS classification in `lowered`."""
    cases = " ".join(
        f"WHEN starts_with({lowered}, {_quoted(text)}) THEN {_quoted(code)}" for text, code in CATEGORIES
    )
    return f"CASE {cases} END"


def status_sql(column: str) -> str:
    """The OCDS tender status of the PhilGEPS notice status in `column`."""
    cases = " ".join(f"WHEN {_quoted(text)} THEN {_quoted(code)}" for text, code in TENDER_STATUS.items())
    return f"CASE lower({column}) {cases} END"


def _pruned(value: Mapping[str, Any]) -> dict[str, Any]:
    """`value` without None, "" and empty containers (the validator reports them)."""
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


def notice_ids(notices: QuerySet[Any]) -> Iterator[int]:
    """The ids of `notices` (a Notice queryset, or a values list of notice ids), ascending,
    through a server-side cursor."""
    ids = notices.order_by("id").values_list("id", flat=True) if notices.model is Notice else notices
    return ids.iterator(chunk_size=5000)


def notices_of_awards(awards: QuerySet[Award]) -> QuerySet[Any]:
    """The distinct notice ids behind `awards`, ascending."""
    return awards.order_by("notice_id").values_list("notice_id", flat=True).distinct()


def _quoted(text: str) -> str:
    """`text` as an SQL string literal (for the module's own constants only)."""
    return "'" + text.replace("'", "''") + "'"


# The release's JSON is written by concatenating text: concat_ws() skips NULL arguments, so
# a field whose value is NULL is left out, and nothing has to parse the text again (a
# json_strip_nulls() pass over each release cost more than the rest of the query).


def _object(*fields: tuple[str, str]) -> str:
    """A JSON object of the fields (key, SQL of the value's JSON text) whose value is not NULL."""
    parts = ", ".join(f"""'"{key}":' || {value}""" for key, value in fields)
    return f"('{{' || concat_ws(',', {parts}) || '}}')"


def _text(expression: str) -> str:
    """A JSON string, or NULL for NULL and ''."""
    return f"to_json(NULLIF({expression}, ''))::text"


def _array(element: str, order: str) -> str:
    """The aggregate JSON array of `element` (NULL over no rows)."""
    return f"('[' || string_agg({element}, ',' ORDER BY {order}) || ']')"


def _party_sql(scope: str, name: str) -> str:
    """party_id() in SQL: the same white space, ASCII upper-casing and hash."""
    return (
        f"'PH-PGEPS-{scope}-' || left(encode(sha256(convert_to(upper(btrim(regexp_replace("
        f"{name}, '{_SPACES_SQL}', ' ', 'g'), ' ') COLLATE \"C\"), 'UTF8')), 'hex'), 16)"
    )


def _start_sql(day: str) -> str:
    return f"""('"' || {day}::text || 'T00:00:00{ZONE}"')"""


def _end_sql(day: str) -> str:
    return f"""('"' || {day}::text || 'T23:59:59{ZONE}"')"""


def _money_sql(amount: str) -> str:
    return f"""('{{"amount":' || {amount}::text || ',"currency":"{CURRENCY}"}}')"""


def _classification_sql(award: str) -> str:
    return (
        f"""CASE WHEN {award}.unspsc_code <> '' THEN """
        + _object(
            ("scheme", "'\"UNSPSC\"'"),
            ("id", _text(f"{award}.unspsc_code")),
            ("description", _text(f"{award}.unspsc_description")),
        )
        + " END"
    )


def _release_sql() -> str:
    """One query that builds the releases of a batch of notice ids (%(ids)s), in id order.

    Each row: notice id, number of awards, ocid, release date (YYYY-MM-DD), the tag array
    and the rest of the release as JSON text from `{"initiationType"` on (_release puts
    them together).
    """
    item = _object(
        ("id", "to_json(replace(i.key::text, '-', ''))::text"),
        (
            "description",
            _text(
                "CASE WHEN i.name <> '' AND i.description <> '' AND i.description <> i.name "
                "THEN i.name || ': ' || i.description ELSE COALESCE(NULLIF(i.name, ''), i.description) END"
            ),
        ),
        ("classification", _classification_sql("a")),
        ("quantity", "i.quantity::text"),
        ("unit", f"CASE WHEN i.uom <> '' THEN {_object(('name', _text('i.uom')))} END"),
    )
    supplier_ref = _object(
        ("id", "to_json(a.supplier_pid)::text"), ("name", "to_json(a.supplier_name)::text")
    )
    award = _object(
        ("id", "to_json(a.hex)::text"),
        ("title", _text("COALESCE(NULLIF(a.title, ''), 'Award ' || NULLIF(a.award_number, ''))")),
        ("status", "'\"active\"'"),
        ("date", _start_sql("a.award_date")),
        ("value", _money_sql("a.amount")),
        ("suppliers", f"CASE WHEN a.supplier_pid IS NOT NULL THEN '[' || {supplier_ref} || ']' END"),
        (
            "items",
            "COALESCE(ai.items, CASE WHEN a.unspsc_code <> '' THEN '[' || "
            + _object(
                ("id", "'\"1\"'"),
                ("description", _text("a.unspsc_description")),
                ("classification", _classification_sql("a")),
            )
            + " || ']' END)",
        ),
    )
    has_contract = "a.contract_number <> '' OR a.effectivity_date IS NOT NULL OR a.end_date IS NOT NULL"
    contract = _object(
        ("id", "to_json(a.hex)::text"),
        ("awardID", "to_json(a.hex)::text"),
        ("title", _text("'Contract No. ' || NULLIF(a.contract_number, '')")),
        ("value", _money_sql("a.amount")),
        (
            "period",
            "CASE WHEN a.effectivity_date IS NOT NULL OR a.end_date IS NOT NULL THEN "
            + _object(("startDate", _start_sql("a.effectivity_date")), ("endDate", _end_sql("a.end_date")))
            + " END",
        ),
    )
    buyer_ref = _object(("id", "to_json(n.buyer_pid)::text"), ("name", "to_json(n.buyer_name)::text"))
    budget = f"CASE WHEN n.approved_budget IS NOT NULL THEN {_money_sql('n.approved_budget')} END"
    tender = _object(
        ("id", "to_json(COALESCE(NULLIF(n.reference_number, ''), replace(n.key::text, '-', '')))::text"),
        ("title", _text("n.title")),
        ("status", f"to_json({status_sql('n.status')})::text"),
        ("procuringEntity", buyer_ref),
        ("value", budget),
        ("procurementMethod", f"to_json({method_sql('n.mode_lower')})::text"),
        ("procurementMethodDetails", _text("n.procurement_mode")),
        ("mainProcurementCategory", f"to_json({category_sql('n.classification_lower')})::text"),
        (
            "tenderPeriod",
            "CASE WHEN n.published_date IS NOT NULL OR n.closing_date IS NOT NULL THEN "
            + _object(("startDate", _start_sql("n.published_date")), ("endDate", _end_sql("n.closing_date")))
            + " END",
        ),
        ("items", "ti.items"),
        ("tenderers", "t.refs"),
        ("numberOfTenderers", "t.number::text"),
    )
    tail = _object(
        ("initiationType", "'\"tender\"'"),
        ("parties", "p.parties"),
        ("buyer", buyer_ref),
        (
            "planning",
            "CASE WHEN n.approved_budget IS NOT NULL THEN "
            + _object(("budget", _object(("description", _text("n.funding_source")), ("amount", budget))))
            + " END",
        ),
        ("tender", tender),
        ("awards", "aw.awards"),
        ("contracts", "aw.contracts"),
    )
    org_address = _object(
        ("region", _text("o.region")),
        ("locality", _text("COALESCE(NULLIF(o.city, ''), o.province)")),
        ("countryName", "'\"Philippines\"'"),
    )
    supplier_address = _object(
        ("region", _text("s.region")), ("locality", _text("s.city")), ("countryName", _text("s.country"))
    )
    party = _object(
        ("name", "to_json(name)::text"),
        ("id", "to_json(pid)::text"),
        ("roles", "roles"),
        ("address", "address"),
    )
    return f"""
WITH n AS MATERIALIZED (
  SELECT n.id, n.key, n.reference_number, n.title, n.classification, n.procurement_mode,
    n.approved_budget, n.funding_source, n.published_date, n.closing_date, n.status, n.bidders,
    lower(n.procurement_mode) AS mode_lower, lower(n.classification) AS classification_lower,
    o.name AS buyer_name, {_party_sql("org", "o.name")} AS buyer_pid, {org_address} AS buyer_address
  FROM explorer_notice n JOIN explorer_organization o ON o.id = n.organization_id
  WHERE n.id = ANY(%(ids)s)
), a AS MATERIALIZED (
  SELECT a.id, a.notice_id, replace(a.key::text, '-', '') AS hex, a.award_number, a.title, a.amount,
    a.contract_number, a.unspsc_code, a.unspsc_description, a.published_date, a.award_date,
    a.effectivity_date, a.end_date, NULLIF(s.name, '') AS supplier_name,
    CASE WHEN s.name <> '' THEN {_party_sql("sup", "s.name")} END AS supplier_pid,
    NULLIF({supplier_address}, '{{}}') AS supplier_address
  FROM explorer_award a LEFT JOIN explorer_supplier s ON s.id = a.supplier_id
  WHERE a.notice_id = ANY(%(ids)s)
), i AS MATERIALIZED (
  SELECT i.notice_id, i.award_id, i.line_number, i.id, {item} AS item
  FROM explorer_lineitem i LEFT JOIN a ON a.id = i.award_id AND a.notice_id = i.notice_id
  WHERE i.notice_id = ANY(%(ids)s)
), ai AS (
  SELECT notice_id, award_id, {_array("item", "line_number, id")} AS items
  FROM i WHERE award_id IS NOT NULL GROUP BY notice_id, award_id
), ti AS (
  SELECT notice_id, {_array("item", "line_number, id")} AS items FROM i GROUP BY notice_id
), aw AS (
  SELECT a.notice_id, count(*) AS number, max(COALESCE(a.published_date, a.award_date)) AS latest,
    {_array(award, "a.id")} AS awards,
    '[' || string_agg({contract}, ',' ORDER BY a.id) FILTER (WHERE {has_contract}) || ']' AS contracts
  FROM a LEFT JOIN ai ON ai.notice_id = a.notice_id AND ai.award_id = a.id GROUP BY a.notice_id
), lines AS MATERIALIZED (
  SELECT DISTINCT ON (notice_id, pid) notice_id, pid, name, ord FROM (
    SELECT x.notice_id, x.name, x.ord, {_party_sql("sup", "x.name")} AS pid FROM (
      SELECT n.id AS notice_id, l.ord, btrim(regexp_replace(l.line, '{_SPACES_SQL}', ' ', 'g'), ' ') AS name
      FROM n, regexp_split_to_table(n.bidders, '{_LINES_SQL}') WITH ORDINALITY AS l(line, ord)
      WHERE n.bidders <> ''
    ) x WHERE x.name <> ''
  ) y ORDER BY notice_id, pid, ord
), t AS (
  SELECT notice_id, {_array(_object(("id", "to_json(pid)::text"), ("name", "to_json(name)::text")), "ord")}
    AS refs, count(*) AS number FROM lines GROUP BY notice_id
), roles AS (
  SELECT n.id AS notice_id, n.buyer_pid AS pid, n.buyer_name AS name, 'buyer' AS role,
    n.buyer_address AS address, 0::bigint AS ord FROM n
  UNION ALL SELECT notice_id, pid, name, 'tenderer', NULL, ord FROM lines
  UNION ALL SELECT notice_id, supplier_pid, supplier_name, 'supplier', supplier_address,
    1000000000000 + id FROM a WHERE supplier_pid IS NOT NULL
), p AS (
  SELECT notice_id, {_array(party, "ord")} AS parties FROM (
    SELECT notice_id, pid, (array_agg(name ORDER BY ord))[1] AS name, min(ord) AS ord,
      CASE WHEN bool_or(role = 'buyer') THEN '["buyer","procuringEntity"]'
        WHEN bool_or(role = 'tenderer') AND bool_or(role = 'supplier') THEN '["tenderer","supplier"]'
        WHEN bool_or(role = 'tenderer') THEN '["tenderer"]'
        ELSE '["supplier"]' END AS roles,
      (array_agg(address ORDER BY ord) FILTER (WHERE address IS NOT NULL))[1] AS address
    FROM roles GROUP BY notice_id, pid
  ) q GROUP BY notice_id
), r AS (
  SELECT n.id, COALESCE(aw.number, 0) AS awards,
    %(prefix)s || '-' || COALESCE(NULLIF(n.reference_number, ''),
      'n' || replace(n.key::text, '-', '')) AS ocid,
    COALESCE(GREATEST(n.published_date, aw.latest), n.closing_date,
      DATE '{FALLBACK_DATE.isoformat()}')::text AS day,
    '["tender"' || CASE WHEN aw.awards IS NOT NULL THEN ',"award"' ELSE '' END
      || CASE WHEN aw.contracts IS NOT NULL THEN ',"contract"' ELSE '' END || ']' AS tag,
    {tail} AS rest
  FROM n LEFT JOIN aw ON aw.notice_id = n.id LEFT JOIN ti ON ti.notice_id = n.id
  LEFT JOIN t ON t.notice_id = n.id LEFT JOIN p ON p.notice_id = n.id
)
SELECT id, awards, ocid, day, tag, rest FROM r ORDER BY id
"""


class Release(NamedTuple):
    """A notice's release as compact JSON in three pieces, with what the bulk files need to
    know about it: `head` (ocid, id and date, up to `"tag":`), the tag array, and `tail`
    (the rest, from `,"initiationType"`)."""

    notice_id: int
    awards: int
    day: str  # the release date, YYYY-MM-DD
    head: bytes
    tag: bytes
    tail: bytes

    def json(self) -> bytes:
        return self.head + self.tag + self.tail

    def compiled_json(self) -> bytes:
        """The compiled release of a process published as one release: its latest state."""
        return self.head + b'["compiled"]' + self.tail

    def as_dict(self) -> dict[str, Any]:
        return orjson.loads(self.json())


def _release(notice_id: int, awards: int, ocid_: str, day: str, tag: str, rest: str) -> Release:
    """The Release of one row of the release query. Its id hashes the ocid, date, tag and
    the rest, so it changes exactly when the content does (hashed here, beside the
    database's work, rather than in the query)."""
    body = rest.encode()
    digest = hashlib.sha256(f"{ocid_}{day}{tag}".encode())
    digest.update(body)
    head = (
        f'{{"ocid":{orjson.dumps(ocid_).decode()},"id":{orjson.dumps(f"{ocid_}-{digest.hexdigest()[:24]}").decode()},'
        f'"date":"{day}T00:00:00{ZONE}","tag":'
    )
    return Release(notice_id, awards, day, head.encode(), tag.encode(), b"," + body[1:])


@lru_cache(maxsize=1)
def release_query() -> str:
    return _release_sql()


def releases_of(batch: Sequence[int]) -> list[Release]:
    """The releases of these notice ids, in id order (one query)."""
    with transaction.atomic(), connection.cursor() as cursor:
        # The planner guesses many rows for the bidder lines, and JIT compiling the query for
        # that took longer than running it; dates are written as text in ISO style.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL DateStyle = 'ISO'")
        cursor.execute(release_query(), {"ids": list(batch), "prefix": settings.OCDS_OCID_PREFIX})
        return [_release(*row) for row in cursor.fetchall()]


def releases(ids: Iterable[int]) -> Iterator[Release]:
    """The release of each notice id, in batches of BATCH_NOTICES.

    FETCHERS threads, each with its own database connection, build the next batches
    while this one is written: the database's time and Python's overlap, and on two
    cores two server processes build releases at once.
    """
    iterator = iter(ids)
    with ThreadPoolExecutor(max_workers=FETCHERS, thread_name_prefix="ocds-fetch") as pool:
        pending: deque[Future[list[Release]]] = deque()
        try:
            while True:
                while len(pending) < FETCHERS and (batch := list(islice(iterator, BATCH_NOTICES))):
                    pending.append(pool.submit(releases_of, batch))
                if not pending:
                    break
                yield from pending.popleft().result()
        finally:
            for left in pending:
                left.cancel()
            # One close per thread: each waits at the barrier until every thread holds one.
            barrier = threading.Barrier(FETCHERS)
            for closing in [pool.submit(_close_connection, barrier) for _ in range(FETCHERS)]:
                closing.result()


def _close_connection(barrier: threading.Barrier) -> None:
    barrier.wait(timeout=60)
    connections.close_all()


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
