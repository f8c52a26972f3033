"""PH04 negotiated after two failed biddings with no two failed biddings on record."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from explorer.indicators.base import NOT_CANCELLED, WORK_TABLE, Scope, SelectIndicator

MODE = "%%Two Failed Biddings%%"


class NegotiatedWithoutFailures(SelectIndicator):
    code = "PH04"
    label = "Negotiated after two failed biddings, none on record"
    explanation = (
        "A notice negotiated under Sec. 53.1 (two failed biddings) whose procuring entity has fewer "
        "than two Failed notices with a similar title in the year before it."
    )
    source = "RA 9184 IRR Sec. 53.1; ProZorro's negotiated-procedure risk rule"
    scope = "process"

    def settings(self) -> dict[str, Any]:
        return {
            "INDICATOR_FAILED_LOOKBACK_DAYS": settings.INDICATOR_FAILED_LOOKBACK_DAYS,
            "INDICATOR_FAILED_TITLE_SIMILARITY": settings.INDICATOR_FAILED_TITLE_SIMILARITY,
        }

    def related(self) -> str | None:
        # A Failed notice imported now changes the later negotiated notices of its entity.
        return (
            "SELECT m.id FROM explorer_notice m WHERE m.procurement_mode ILIKE '%%Two Failed Biddings%%' "
            "AND m.organization_id IN (SELECT s.organization_id FROM explorer_notice s "
            f"WHERE s.id IN (SELECT notice_id FROM {WORK_TABLE}) AND s.status ILIKE 'failed')"
        )

    def select(self, scope: Scope) -> tuple[str, list[Any]]:
        days = settings.INDICATOR_FAILED_LOOKBACK_DAYS
        similarity = settings.INDICATOR_FAILED_TITLE_SIMILARITY
        # m: the negotiated notices in scope; f: the Failed notices of their entities (few);
        # a hash join on the entity, then the date window and the title similarity.
        sql = (
            "WITH m AS (SELECT n.id, n.organization_id, n.published_date, n.title FROM explorer_notice n "
            f"WHERE {scope.on('n.id')} AND n.procurement_mode ILIKE '{MODE}' "
            f"AND {NOT_CANCELLED.format(column='n.status')} AND n.published_date IS NOT NULL), "
            "f AS (SELECT p.id, p.key, p.organization_id, p.published_date, p.title FROM explorer_notice p "
            "WHERE p.status ILIKE 'failed' AND p.organization_id IN (SELECT organization_id FROM m)), "
            "c AS (SELECT m.id, m.organization_id, m.published_date, count(f.id) AS found, "
            "COALESCE(jsonb_agg(f.key) FILTER (WHERE f.id IS NOT NULL), '[]'::jsonb) AS ids "
            "FROM m LEFT JOIN f ON f.organization_id = m.organization_id AND f.id <> m.id "
            "AND f.published_date BETWEEN m.published_date - %s AND m.published_date "
            "AND similarity(f.title, m.title) >= %s GROUP BY m.id, m.organization_id, m.published_date) "
            "SELECT c.id AS notice_id, NULL::bigint AS award_id, c.organization_id, "
            "NULL::bigint AS supplier_id, "
            "1.0::float AS value, jsonb_build_object('failed_found', c.found, 'needed', 2, "
            "'lookback_days', %s::int, 'similarity', %s::float, 'published', c.published_date, "
            "'failed_notices', c.ids) AS evidence FROM c WHERE c.found < 2"
        )
        return sql, [days, similarity, days, similarity]
