"""One supplier's share of a procuring entity's spend and awards."""

from __future__ import annotations

from typing import Any, TypedDict

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet

from explorer.analyses.base import Analysis, Finding, SearchLink, Sheet
from explorer.models import Award

MIN_AWARDS = 20
SPEND_SHARE = 0.6  # flag: one supplier takes this share of the spend ...
COUNT_SHARE = 0.5  # ... AND this share of the awards (repeat awards)
LISTED = 25

# One row per entity with its top supplier.
SQL = """
WITH pairs AS (
    SELECT organization_id AS org, supplier_id AS supplier, COUNT(*) AS n,
           CAST(COALESCE(SUM(amount), 0) AS DOUBLE PRECISION) AS amount
    FROM ({awards}) AS awards
    WHERE supplier_id IS NOT NULL
    GROUP BY organization_id, supplier_id
), ranked AS (
    SELECT org, supplier, n, amount,
           ROW_NUMBER() OVER (PARTITION BY org ORDER BY amount DESC, n DESC, supplier) AS position,
           SUM(n) OVER (PARTITION BY org) AS org_n,
           SUM(amount) OVER (PARTITION BY org) AS org_amount,
           SUM(amount * amount) OVER (PARTITION BY org) AS org_squares
    FROM pairs
)
SELECT o.name, CAST(r.org_n AS BIGINT), r.org_amount, s.name, r.n, r.amount,
       r.org_squares / (r.org_amount * r.org_amount) * 10000
FROM ranked r
JOIN explorer_organization o ON o.id = r.org
JOIN explorer_supplier s ON s.id = r.supplier
WHERE r.position = 1 AND r.org_n >= %s AND r.org_amount > 0
"""


class EntityRow(TypedDict):
    name: str
    awards: int
    amount: float
    top_supplier: str
    top_awards: int
    top_amount: float
    spend_share: float
    count_share: float
    hhi: float
    flag: bool


class Concentration(TypedDict):
    min_awards: int
    spend_share: float
    count_share: float
    tested: int
    flagged: int
    entities: list[EntityRow]


class SupplierConcentration(Analysis):
    name = "concentration"
    label = "Supplier concentration"
    template = "explorer/analyses/concentration.html"
    flag_label = "concentration"

    def compute(self, awards: QuerySet[Award]) -> Concentration:
        try:
            sql, params = awards.values("organization_id", "supplier_id", "amount").query.sql_with_params()
        except EmptyResultSet:  # a filter that can match nothing
            rows = []
        else:
            with connection.cursor() as cursor:
                cursor.execute(SQL.format(awards=sql), [*params, MIN_AWARDS])
                rows = cursor.fetchall()
        entities: list[EntityRow] = []
        for name, n, amount, top_name, top_n, top_amount, hhi in rows:
            spend_share = top_amount / amount
            count_share = top_n / n
            entities.append(
                {
                    "name": name,
                    "awards": n,
                    "amount": amount,
                    "top_supplier": top_name,
                    "top_awards": top_n,
                    "top_amount": top_amount,
                    "spend_share": spend_share,
                    "count_share": count_share,
                    "hhi": hhi,
                    "flag": spend_share >= SPEND_SHARE and count_share >= COUNT_SHARE,
                }
            )
        entities.sort(key=lambda row: (not row["flag"], -row["spend_share"], -row["awards"]))
        return {
            "min_awards": MIN_AWARDS,
            "spend_share": SPEND_SHARE,
            "count_share": COUNT_SHARE,
            "tested": len(entities),
            "flagged": sum(row["flag"] for row in entities),
            "entities": entities[: max(LISTED, sum(row["flag"] for row in entities))],  # every flagged one
        }

    def flagged(self, payload: Concentration) -> int:
        return payload["flagged"]

    def findings(self, payload: Concentration) -> list[Finding]:
        return [
            {
                "analysis": self.name,
                "scope": "organization",
                "name": e["name"],
                "statistic": f"{e['top_supplier']} took {e['spend_share']:.0%} of the spend and "
                f"{e['count_share']:.0%} of the {e['awards']} awards",
                "strength": e["spend_share"] * e["count_share"] * 10,
                "evidence": {k: e[k] for k in ("awards", "top_supplier", "top_awards", "spend_share", "hhi")},
                "baseline": f"flagged at a spend share of {SPEND_SHARE:.0%} and an award share of "
                f"{COUNT_SHARE:.0%} or more, among entities with {MIN_AWARDS} awards or more",
                "filters": {"organization": e["name"], "supplier": e["top_supplier"]},
            }
            for e in payload["entities"]
            if e["flag"]
        ]

    def sheets(self, payload: Concentration) -> list[Sheet]:
        headers = [
            "Agency",
            "Awards",
            "Amount (PHP)",
            "Top supplier",
            "Its awards",
            "Spend share",
            "HHI",
            "Flagged",
        ]
        rows = [
            [
                e["name"], e["awards"], e["amount"], e["top_supplier"], e["top_awards"],
                e["spend_share"], e["hhi"], "yes" if e["flag"] else "",
            ]
            for e in payload["entities"]
        ]  # fmt: skip
        return [Sheet("Concentration", headers, rows)]

    def page(self, payload: Concentration, search: SearchLink) -> dict[str, Any]:
        return {
            "data": payload,
            "rows": [
                e | {"url": search(organization=e["name"], supplier=e["top_supplier"])}
                for e in payload["entities"]
            ],
        }
