"""PH03 split purchases: awards that each stay under a mode's ceiling and together pass it."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from explorer.indicators.base import NOT_CANCELLED, WORK_TABLE, Indicator, Scope


def ceiling_sql(column: str) -> tuple[str, str, list[Any]]:
    """(ceiling, mode key) CASE expressions over the mode in `column` and their params: the
    first prefix of INDICATOR_SPLIT_CEILINGS that matches; NULL when none does."""
    ceiling, key, ceiling_params, key_params = [], [], [], []
    for number, (prefix, amount) in enumerate(settings.INDICATOR_SPLIT_CEILINGS.items()):
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        ceiling.append(f"WHEN {column} ILIKE %s THEN %s::numeric")
        key.append(f"WHEN {column} ILIKE %s THEN {number}")
        ceiling_params += [escaped, amount]
        key_params.append(escaped)
    if not ceiling:
        return "NULL::numeric", "NULL::int", []
    return f"(CASE {' '.join(ceiling)} END)", f"(CASE {' '.join(key)} END)", [*ceiling_params, *key_params]


class SplitPurchases(Indicator):
    code = "PH03"
    label = "Split purchases"
    explanation = (
        "Awards by the same procuring entity to the same supplier in the same UNSPSC class within "
        "the window, each at or under its mode's ceiling and together above it."
    )
    source = "RA 9184 IRR Sec. 54.1 (splitting of contracts); ceilings of IRR Annex H"
    scope = "award"

    def settings(self) -> dict[str, Any]:
        return {
            "INDICATOR_SPLIT_CEILINGS": settings.INDICATOR_SPLIT_CEILINGS,
            "INDICATOR_SPLIT_WINDOW_DAYS": settings.INDICATOR_SPLIT_WINDOW_DAYS,
        }

    def related(self) -> str | None:
        # The other awards of the same entity and supplier: each pair once.
        return (
            "SELECT b.notice_id FROM explorer_award b WHERE (b.supplier_id, b.organization_id) IN ("
            "SELECT s.supplier_id, s.organization_id FROM explorer_award s "
            f"WHERE s.notice_id IN (SELECT notice_id FROM {WORK_TABLE}) AND s.supplier_id IS NOT NULL)"
        )

    def select(self, scope: Scope) -> tuple[str, list[Any]]:
        ceiling, key, params = ceiling_sql("a.procurement_mode")
        window = int(settings.INDICATOR_SPLIT_WINDOW_DAYS)
        # w: for each award, the sum of the awards of its group from its date to `window`
        # days later (a window anchored on it). Every award inside an anchored window whose
        # sum passes the ceiling is flagged, with the largest such window as evidence.
        sql = (
            "WITH c AS (SELECT a.id, a.notice_id, a.organization_id, a.supplier_id, a.award_date, a.amount, "
            f"left(a.unspsc_code, 6) AS cls, {ceiling} AS ceiling, {key} AS mode_key "
            f"FROM explorer_award a WHERE {scope.on('a.notice_id')} AND a.supplier_id IS NOT NULL "
            "AND a.award_date IS NOT NULL AND a.amount IS NOT NULL AND a.unspsc_code ~ '^[0-9]{6}' "
            f"AND {NOT_CANCELLED.format(column='a.status')}), "
            "e AS (SELECT * FROM c WHERE ceiling IS NOT NULL AND amount <= ceiling), "
            "w AS (SELECT e.*, sum(amount) OVER win AS total, count(*) OVER win AS n FROM e "
            "WINDOW win AS (PARTITION BY organization_id, supplier_id, cls, mode_key ORDER BY award_date "
            f"RANGE BETWEEN CURRENT ROW AND INTERVAL '{window} days' FOLLOWING)) "
            "SELECT DISTINCT ON (b.id) b.notice_id, b.id AS award_id, b.organization_id, b.supplier_id, "
            "1.0::float AS value, jsonb_build_object('total', w.total, 'ceiling', w.ceiling, 'awards', w.n, "
            f"'from', w.award_date, 'to', w.award_date + {window}, 'class', w.cls) AS evidence "
            "FROM w JOIN e b ON b.organization_id = w.organization_id AND b.supplier_id = w.supplier_id "
            "AND b.cls = w.cls AND b.mode_key = w.mode_key "
            f"AND b.award_date BETWEEN w.award_date AND w.award_date + {window} "
            "WHERE w.total > w.ceiling ORDER BY b.id, w.total DESC, w.award_date"
        )
        return sql, params
