"""PH03 split purchases: awards that each stay under a mode's ceiling and together pass it."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from explorer.indicators.base import NOT_CANCELLED, WORK_TABLE, Indicator, Scope, new_results, write_results


def ceiling_sql(column: str) -> tuple[str, list[Any], str, list[Any]]:
    """The ceiling and mode-key CASE expressions over the mode in `column`, each with its
    params: the first prefix of INDICATOR_SPLIT_CEILINGS that matches; NULL when none does."""
    ceiling, key, ceiling_params, key_params = [], [], [], []
    for number, (prefix, amount) in enumerate(settings.INDICATOR_SPLIT_CEILINGS.items()):
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        ceiling.append(f"WHEN {column} ILIKE %s THEN %s::numeric")
        key.append(f"WHEN {column} ILIKE %s THEN {number}")
        ceiling_params += [escaped, amount]
        key_params.append(escaped)
    if not ceiling:
        return "NULL::numeric", [], "NULL::int", []
    return f"(CASE {' '.join(ceiling)} END)", ceiling_params, f"(CASE {' '.join(key)} END)", key_params


class SplitPurchases(Indicator):
    code = "PH03"
    label = "Split purchases"
    explanation = (
        "Awards by the same procuring entity to the same supplier in the same UNSPSC class within "
        "the window, each at or under its mode's ceiling and together above it."
    )
    source = "RA 9184 IRR Sec. 54.1 (splitting of contracts); ceilings of IRR Annex H"
    scope = "award"
    # A new award changes the windows of its group within the window's length either side,
    # and the awards of those windows: write() recomputes the awards of the touched groups
    # near the touched dates only (the whole self-join over every award costs ~25 s at 1M).

    def settings(self) -> dict[str, Any]:
        return {
            "INDICATOR_SPLIT_CEILINGS": settings.INDICATOR_SPLIT_CEILINGS,
            "INDICATOR_SPLIT_WINDOW_DAYS": settings.INDICATOR_SPLIT_WINDOW_DAYS,
        }

    def write(self, cursor: Any, scope: Scope) -> dict[str, Any]:
        ceiling, ceiling_params, key, key_params = ceiling_sql("a.procurement_mode")
        params = [*ceiling_params, *key_params]
        window = int(settings.INDICATOR_SPLIT_WINDOW_DAYS)
        live = (
            "a.supplier_id IS NOT NULL AND a.award_date IS NOT NULL AND a.amount IS NOT NULL "
            f"AND a.unspsc_code ~ '^[0-9]{{6}}' AND {NOT_CANCELLED.format(column='a.status')}"
        )
        columns = (
            "a.id, a.notice_id, a.organization_id, a.supplier_id, a.award_date, a.amount, "
            f"left(a.unspsc_code, 6) AS cls, {ceiling} AS ceiling, {key} AS mode_key"
        )
        if scope.full:
            new_results(
                cursor, *_split(f"SELECT {columns} FROM explorer_award a WHERE {live}", params, window)
            )
            write_results(cursor, self, "TRUE")
            return {}
        # The groups and dates of every award on a touched notice (live or not: a cancelled
        # one leaves its group's windows). An award b's verdict reads the anchors from
        # b - window to b, whose sums read up to b + window: the awards within the window of
        # a touched date are judged again, from the awards within twice the window.
        _, _, touched_key, _ = ceiling_sql("t.procurement_mode")
        cursor.execute("DROP TABLE IF EXISTS ph03_touched")
        cursor.execute(
            "CREATE TEMP TABLE ph03_touched ON COMMIT DROP AS SELECT DISTINCT t.organization_id, "
            f"t.supplier_id, left(t.unspsc_code, 6) AS cls, {touched_key} AS mode_key, t.award_date "
            f"FROM explorer_award t WHERE t.notice_id IN (SELECT notice_id FROM {WORK_TABLE}) "
            "AND t.supplier_id IS NOT NULL AND t.award_date IS NOT NULL AND t.unspsc_code ~ '^[0-9]{6}'",
            key_params,
        )
        cursor.execute("DELETE FROM ph03_touched WHERE mode_key IS NULL")
        cursor.execute("ANALYZE ph03_touched")
        # Driven by the touched rows through the (supplier, award_date) index.
        cursor.execute("DROP TABLE IF EXISTS ph03_near")
        cursor.execute(
            f"CREATE TEMP TABLE ph03_near ON COMMIT DROP AS SELECT {columns}, "
            f"bool_or(a.award_date BETWEEN t.award_date - {window} AND t.award_date + {window}) AS judged "
            "FROM ph03_touched t JOIN explorer_award a ON a.supplier_id = t.supplier_id "
            "AND a.organization_id = t.organization_id AND left(a.unspsc_code, 6) = t.cls "
            f"AND a.award_date BETWEEN t.award_date - {2 * window} AND t.award_date + {2 * window} "
            f"WHERE {live} AND {key} = t.mode_key GROUP BY a.id",
            [*params, *key_params],
        )
        cursor.execute("ANALYZE ph03_near")
        sql, split_params = _split(
            "SELECT id, notice_id, organization_id, supplier_id, award_date, amount, cls, ceiling, mode_key "
            "FROM ph03_near",
            [],
            window,
            judged="b.id IN (SELECT id FROM ph03_near WHERE judged)",
        )
        new_results(cursor, sql, split_params)
        write_results(
            cursor,
            self,
            f"(r.award_id IN (SELECT id FROM ph03_near WHERE judged) OR r.notice_id IN "
            f"(SELECT notice_id FROM {WORK_TABLE}))",
        )
        return {}


def _split(candidates: str, params: list[Any], window: int, judged: str = "TRUE") -> tuple[str, list[Any]]:
    """The SELECT of the results among `candidates` (a SELECT of the awards with their
    class, ceiling and mode key) for the awards where `judged`."""
    # w: for each award, the sum of the awards of its group from its date to `window` days
    # later (a window anchored on it). Every award inside an anchored window whose sum
    # passes the ceiling is flagged, with the largest such window as evidence.
    sql = (
        f"WITH c AS ({candidates}), "
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
        f"WHERE w.total > w.ceiling AND {judged} ORDER BY b.id, w.total DESC, w.award_date"
    )
    return sql, params
