"""PH04 negotiated after two failed biddings with no two failed biddings on record."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from explorer.indicators.base import NOT_CANCELLED, WORK_TABLE, Indicator, Scope

MODE = "%%Two Failed Biddings%%"


class NegotiatedWithoutFailures(Indicator):
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
        # A failed notice imported now changes the later negotiated notices of its entity.
        return (
            "SELECT DISTINCT m.id FROM explorer_notice s JOIN explorer_notice m "
            "ON m.organization_id = s.organization_id "
            f"WHERE s.id IN (SELECT notice_id FROM {WORK_TABLE}) AND m.procurement_mode ILIKE '{MODE}'"
        )

    def select(self, scope: Scope) -> tuple[str, list[Any]]:
        days = settings.INDICATOR_FAILED_LOOKBACK_DAYS
        similarity = settings.INDICATOR_FAILED_TITLE_SIMILARITY
        sql = (
            "SELECT n.id AS notice_id, NULL::bigint AS award_id, "
            "n.organization_id, NULL::bigint AS supplier_id, "
            "1.0::float AS value, jsonb_build_object('failed_found', f.found, 'needed', 2, "
            "'lookback_days', %s::int, 'similarity', %s::float, 'published', n.published_date, "
            "'failed_notices', f.ids) AS evidence "
            "FROM explorer_notice n CROSS JOIN LATERAL (SELECT count(*) AS found, "
            "COALESCE(jsonb_agg(p.key), '[]'::jsonb) AS ids FROM explorer_notice p "
            "WHERE p.organization_id = n.organization_id AND p.id <> n.id AND p.status ILIKE 'failed' "
            "AND p.published_date BETWEEN n.published_date - %s AND n.published_date "
            "AND similarity(p.title, n.title) >= %s) f "
            f"WHERE {scope.on('n.id')} AND n.procurement_mode ILIKE '{MODE}' "
            f"AND {NOT_CANCELLED.format(column='n.status')} AND n.published_date IS NOT NULL AND f.found < 2"
        )
        return sql, [days, similarity, days, similarity]
