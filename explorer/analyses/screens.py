"""Per-entity screens against peers of similar size: the non-competitive share (limited and
direct modes, explorer/modes.py) of awards and value, the winner's share of the buyer's
yearly spend (DIGIWHIST: per award, the supplier's share of that buyer's spend in that
year; per entity, the mean over its awards), and the year-end rush (the December share of
dated awards).

Each organization and supplier with MIN_AWARDS awards or more is compared with the
entities of the same kind in its size class (SIZE_CLASSES, by awards in the selection):
flagged above the class's upper fence (Q3 + 1.5 IQR, as Cardinal's R048) and, for the
count shares, with a one-sided binomial test against the class median at p < 0.0001.
`measure()` is also what the risk profiles of the entity pages read (explorer/profiles.py).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import QuerySet

from explorer import modes, redflags
from explorer.analyses.base import Analysis, Finding, SearchLink, Sheet
from explorer.indicators import INDICATORS
from explorer.models import Award

MIN_AWARDS = 20
SIZE_CLASSES = (20, 50, 100, 250, 1000)  # lower bounds of the classes by award count
MIN_PEERS = 5  # a class with fewer entities has no peer baseline
P_VALUE = 1e-4
# The winner's share has no test: above the peers' fence it must also be at least this
# (the winners took half of the buyers' yearly spend, on average over the awards). Without
# it, the skewed spread of small buyers flags hundreds of suppliers in the seeded data.
MIN_WINNER_SHARE = 0.5
LISTED = 50
KINDS = ("organization", "supplier")
WORK_MEM = "128MB"  # for the one query of measure(), in its own transaction

# One pass over the awards: counts and sums per (organization, supplier, year), from which
# the organizations' and suppliers' totals and the winner's shares follow (the pairs are
# far fewer than the awards). `nc`: the mode is one of the non-competitive modes passed.
# The indicator flag counts are per entity, over the flagged awards only (`flags && codes`
# reads the GIN index): kept out of the pairs, whose hash table they doubled.
SQL = """
WITH p AS MATERIALIZED (
    SELECT organization_id AS org, supplier_id AS sup, EXTRACT(YEAR FROM award_date) AS y,
           COUNT(*) AS n, COALESCE(SUM(amount), 0) AS amt,
           COUNT(*) FILTER (WHERE nc) AS nc_n, COALESCE(SUM(amount) FILTER (WHERE nc), 0) AS nc_amt,
           COUNT(*) FILTER (WHERE EXTRACT(MONTH FROM award_date) = 12) AS dec_n,
           COUNT(award_date) AS dated,
           COUNT(*) FILTER (WHERE amount > 0) AS pos_n,
           COALESCE(SUM(amount) FILTER (WHERE amount > 0), 0) AS pos_amt
    FROM (SELECT organization_id, supplier_id, CAST(amount AS DOUBLE PRECISION) AS amount, award_date,
                 procurement_mode = ANY(%s) AS nc
          FROM ({awards}) AS selection) AS awards
    GROUP BY 1, 2, 3
), f AS (
    SELECT CASE WHEN GROUPING(organization_id) = 0 THEN 'organization' ELSE 'supplier' END AS kind,
           COALESCE(organization_id, supplier_id) AS id{flag_counts}
    FROM ({awards}) AS selection WHERE flags && %s::varchar(16)[]
    GROUP BY GROUPING SETS ((organization_id), (supplier_id))
), base AS (
    SELECT 'organization' AS kind, org AS id, SUM(n) AS n, SUM(amt) AS amt, SUM(nc_n) AS nc_n,
           SUM(nc_amt) AS nc_amt, SUM(dec_n) AS dec_n, SUM(dated) AS dated
    FROM p GROUP BY org HAVING SUM(n) >= %s
    UNION ALL
    SELECT 'supplier', sup, SUM(n), SUM(amt), SUM(nc_n), SUM(nc_amt), SUM(dec_n), SUM(dated)
    FROM p WHERE sup IS NOT NULL GROUP BY sup HAVING SUM(n) >= %s
), year_spend AS (
    SELECT org, y, SUM(pos_amt) AS total FROM p
    WHERE sup IS NOT NULL AND y IS NOT NULL GROUP BY org, y
), shares AS (
    SELECT p.org, p.sup, p.pos_n AS n, p.pos_amt / t.total AS s
    FROM p JOIN year_spend t ON t.org = p.org AND t.y = p.y
    WHERE p.sup IS NOT NULL AND p.pos_n > 0 AND t.total > 0
), winner AS (
    SELECT 'organization' AS kind, org AS id, SUM(n * s) / SUM(n) AS ws, SUM(n) AS ws_n
    FROM shares GROUP BY org
    UNION ALL
    SELECT 'supplier', sup, SUM(n * s) / SUM(n), SUM(n) FROM shares GROUP BY sup
)
SELECT b.kind, b.id, COALESCE(o.name, s.name), CAST(b.n AS BIGINT), b.amt, CAST(b.nc_n AS BIGINT),
       b.nc_amt, CAST(b.dec_n AS BIGINT), CAST(b.dated AS BIGINT), w.ws, w.ws_n{flag_columns}
FROM base b
LEFT JOIN winner w ON w.kind = b.kind AND w.id = b.id
LEFT JOIN f ON f.kind = b.kind AND f.id = b.id
LEFT JOIN explorer_organization o ON b.kind = 'organization' AND o.id = b.id
LEFT JOIN explorer_supplier s ON b.kind = 'supplier' AND s.id = b.id
"""


@dataclass(frozen=True)
class Component:
    """One screen: its value per entity (a share, larger = more unusual), the counts
    behind it, whether it has a binomial test, and the search of its awards."""

    key: str
    label: str
    value: str  # the measure's key in an entity row
    successes: str  # ... the awards it counts ("" when not a count share)
    trials: str
    filters: dict[str, str]  # on top of the entity's own filter
    describe: str  # what the value is, in words


COMPONENTS: tuple[Component, ...] = (
    Component(
        "noncompetitive", "Non-competitive modes", "nc_share", "nc_n", "awards", {"method": "noncompetitive"},
        "share of its awards in limited or direct modes (OCDS mapping)",
    ),
    Component(
        "winner_share", "Winner's share of the buyer's yearly spend", "winner_share", "", "", {},
        "mean over its awards of the supplier's share of that buyer's spend in that year "
        f"(flagged from {MIN_WINNER_SHARE:.0%})",
    ),
    Component(
        "year_end", "Year-end rush (December)", "dec_share", "dec_n", "dated", {"month": "12"},
        "share of its dated awards made in December",
    ),
)  # fmt: skip
# The process indicators (explorer/indicators/, issue 18): the share of an entity's awards
# whose process, award or supplier carries each flag (Award.flags; an award stands for its
# process, nearly always one award per notice), against the pooled rate of its peers.
_CODE = re.compile(r"^[A-Z0-9]+$")
INDICATOR_CODES = tuple(code for code in INDICATORS if _CODE.match(code))
COMPONENTS += tuple(
    Component(
        f"indicator_{code}", f"{code}: {INDICATORS[code].label}", f"ind_{code}_share", f"ind_{code}_n",
        "awards", {"flag": code}, f"share of its awards flagged {code} ({INDICATORS[code].source})",
    )
    for code in INDICATOR_CODES
)  # fmt: skip


# kind, id, name, awards, amount, size_class, nc_n, nc_amount, nc_share, nc_value_share,
# dec_n, dated, dec_share, winner_share, and ind_<code>_n / ind_<code>_share per indicator.
EntityRow = dict[str, Any]


def size_class(awards: int) -> str:
    label = ""
    for lower, upper in zip(SIZE_CLASSES, (*SIZE_CLASSES[1:], None), strict=True):
        if awards >= lower:
            label = f"{lower:,}-{upper - 1:,}" if upper else f"{lower:,}+"
    return label


def measure(awards: QuerySet[Award], *, min_awards: int = MIN_AWARDS) -> list[EntityRow]:
    """Every entity's measures over these awards (one query)."""
    try:
        sql, params = (
            awards.order_by()
            .values("organization_id", "supplier_id", "amount", "award_date", "procurement_mode", "flags")
            .query.sql_with_params()
        )
    except EmptyResultSet:
        return []
    noncompetitive = modes.noncompetitive_modes(awards)
    with transaction.atomic(), connection.cursor() as cursor:
        # The pairs (about one per award in the seeded data) sort and hash in memory.
        cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        cursor.execute(
            _sql(sql), [noncompetitive, *params, *params, list(INDICATOR_CODES), min_awards, min_awards]
        )
        rows = cursor.fetchall()
    result = []
    for kind, entity_id, name, n, amount, nc_n, nc_amount, dec_n, dated, ws, _, *flagged in rows:
        row: EntityRow = {
            "kind": kind, "id": entity_id, "name": name, "awards": n, "amount": amount,
            "size_class": size_class(n),
            "nc_n": nc_n, "nc_amount": nc_amount, "nc_share": nc_n / n,
            "nc_value_share": nc_amount / amount if amount else 0.0,
            "dec_n": dec_n, "dated": dated, "dec_share": dec_n / dated if dated else 0.0,
            "winner_share": float(ws) if ws is not None else None,
        }  # fmt: skip
        for code, count in zip(INDICATOR_CODES, flagged, strict=True):
            row[f"ind_{code}_n"] = int(count)
            row[f"ind_{code}_share"] = int(count) / n
        result.append(row)
    return result


def _sql(awards: str) -> str:
    """SQL with a count per indicator code (codes are registry constants, checked by _CODE)."""
    return SQL.format(
        awards=awards,
        flag_counts="".join(
            f",\n           COUNT(*) FILTER (WHERE '{c}' = ANY(flags)) AS f_{c.lower()}"
            for c in INDICATOR_CODES
        ),
        flag_columns="".join(f", COALESCE(f.f_{c.lower()}, 0)" for c in INDICATOR_CODES),
    )


def peers(rows: list[EntityRow]) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """{kind: {size class: {component: quartiles and upper fence}}}."""
    grouped: dict[tuple[str, str], list[EntityRow]] = {}
    for row in rows:
        grouped.setdefault((row["kind"], row["size_class"]), []).append(row)
    result: dict[str, dict[str, dict[str, dict[str, float]]]] = {kind: {} for kind in KINDS}
    for (kind, label), members in grouped.items():
        result[kind][label] = {}
        for c in COMPONENTS:
            baseline = redflags.upper_fence([m[c.value] for m in members if m[c.value] is not None])
            if c.successes:  # the pooled rate of the peers: the binomial test's null
                trials = sum(m[c.trials] for m in members)
                baseline["rate"] = sum(m[c.successes] for m in members) / trials if trials else 0.0
            result[kind][label][c.key] = baseline
    return result


def judge(row: EntityRow, component: Component, baseline: dict[str, float] | None) -> dict[str, Any] | None:
    """The component's verdict-free test for one entity: None when it has no value."""
    value = row[component.value]
    if value is None:
        return None
    result: dict[str, Any] = {"value": value, "baseline": baseline, "flag": False, "log10_p": 0.0}
    if component.successes:
        result["count"] = row[component.successes]
        result["of"] = row[component.trials]
    if not baseline or baseline["n"] < MIN_PEERS:
        return result
    above = value > baseline["fence"] and value > baseline["median"]
    if component.successes:
        null = max(baseline["median"], baseline.get("rate", 0.0), 1e-6)  # sparse flags: the pooled rate
        p = redflags.binomial_tail(result["count"], result["of"], min(null, 1 - 1e-6))
        result["log10_p"] = math.log10(p) if p > 0 else -300.0
        result["flag"] = above and p < P_VALUE
    else:
        spread = max(baseline["q3"] - baseline["q1"], 0.01)
        # No test: the strength is how far past the fence, in IQRs, from 4 (like p = 1e-4) up.
        result["log10_p"] = -(4 + (value - baseline["fence"]) / spread) if above else 0.0
        result["flag"] = above and value >= MIN_WINNER_SHARE
    return result


class Screens(Analysis):
    name = "screens"
    label = "Entity screens against peers"
    template = "explorer/analyses/screens.html"
    flag_label = "peer screen"

    def compute(self, awards: QuerySet[Award]) -> dict[str, Any]:
        rows = measure(awards)
        table = peers(rows)
        flagged: list[dict[str, Any]] = []
        for row in rows:
            for component in COMPONENTS:
                baseline = table[row["kind"]].get(row["size_class"], {}).get(component.key)
                verdict = judge(row, component, baseline)
                if verdict and verdict["flag"]:
                    flagged.append({"component": component.key, **row, **verdict})
        flagged.sort(key=lambda f: f["log10_p"])
        counts = {kind: sum(1 for r in rows if r["kind"] == kind) for kind in KINDS}
        return {
            "min_awards": MIN_AWARDS,
            "size_classes": list(SIZE_CLASSES),
            "tested": counts,
            "peers": table,
            "flagged": len(flagged),
            "rows": flagged[:LISTED],
        }

    def flagged(self, payload: dict[str, Any]) -> int:
        return payload["flagged"]

    def findings(self, payload: dict[str, Any]) -> list[Finding]:
        components = {c.key: c for c in COMPONENTS}
        findings: list[Finding] = []
        for f in payload["rows"]:
            c = components[f["component"]]
            b = f["baseline"]
            counts = f" ({f['count']:,} of {f['of']:,})" if c.successes else ""
            extra = (
                f"; {f['nc_value_share']:.0%} of its value (PHP {f['nc_amount']:,.0f})"
                if c.key == "noncompetitive"
                else ""
            )
            test = (
                "one-sided binomial test against the peer median, p < 0.0001"
                if c.successes
                else "no test: the spread of the peers is the baseline"
            )
            findings.append(
                {
                    "analysis": self.name,
                    "scope": f["kind"],
                    "name": f["name"],
                    "statistic": f"{c.label}: {f['value']:.0%}{counts}{extra}; peers: median "
                    f"{b['median']:.0%}, upper fence {b['fence']:.0%}",
                    "strength": redflags.strength(f["log10_p"]),
                    "evidence": {
                        "component": c.key,
                        "value": f["value"],
                        "count": f.get("count"),
                        "of": f.get("of"),
                        "awards": f["awards"],
                        "peers": b,
                        "size_class": f["size_class"],
                    },
                    "baseline": f"the upper fence (Q3 + 1.5 IQR) of the {b['n']:.0f} {f['kind']}s "
                    f"with {f['size_class']} awards in the selection ({c.describe}); {test}",
                    "filters": {f["kind"]: f["name"], **c.filters},
                }
            )
        return findings

    def sheets(self, payload: dict[str, Any]) -> list[Sheet]:
        headers = ["Kind", "Name", "Screen", "Awards", "Size class", "Value", "Count", "Of",
                   "Peer median", "Peer upper fence", "Peers"]  # fmt: skip
        rows = [
            [f["kind"], f["name"], f["component"], f["awards"], f["size_class"], f["value"],
             f.get("count", ""), f.get("of", ""), f["baseline"]["median"], f["baseline"]["fence"],
             f["baseline"]["n"]]
            for f in payload["rows"]
        ]  # fmt: skip
        return [Sheet("Peer screens", headers, rows)]

    def page(self, payload: dict[str, Any], search: SearchLink) -> dict[str, Any]:
        components = {c.key: c for c in COMPONENTS}
        return {
            "data": payload,
            "components": COMPONENTS,
            "rows": [
                f
                | {
                    "label": components[f["component"]].label,
                    "url": search(**{f["kind"]: f["name"]}, **components[f["component"]].filters),
                }
                for f in payload["rows"]
            ],
        }
