"""R003 short submission period (Cardinal's definition)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from explorer.indicators.base import NOT_CANCELLED, Scope, SelectIndicator, competitive

START = "COALESCE(n.published_at, n.published_date::timestamp AT TIME ZONE 'Asia/Manila')"
END = "COALESCE(n.closing_at, (n.closing_date + time '23:59:59') AT TIME ZONE 'Asia/Manila')"
WHOLE_DAYS = f"floor(extract(epoch FROM {END} - {START}) / 86400)::int"


def threshold_sql(column: str) -> tuple[str, list[Any]]:
    """The threshold in days for the mode in `column`: the first per-mode prefix that
    matches, else INDICATOR_R003_DAYS."""
    cases, params = [], []
    for prefix, days in settings.INDICATOR_R003_MODE_DAYS.items():
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        cases.append(f"WHEN {column} ILIKE %s THEN %s")
        params += [escaped, days]
    if not cases:
        return "%s", [settings.INDICATOR_R003_DAYS]
    return f"(CASE {' '.join(cases)} ELSE %s END)", [*params, settings.INDICATOR_R003_DAYS]


class ShortSubmissionPeriod(SelectIndicator):
    code = "R003"
    label = "Short submission period"
    explanation = (
        "Fewer whole days between the notice's Published Date and its Closing Date than the "
        "threshold for its mode, in an open or selective mode."
    )
    source = "Cardinal R003; RA 9184 IRR Sec. 21.2 (posting periods)"
    scope = "process"

    def settings(self) -> dict[str, Any]:
        return {
            "INDICATOR_R003_DAYS": settings.INDICATOR_R003_DAYS,
            "INDICATOR_R003_MODE_DAYS": settings.INDICATOR_R003_MODE_DAYS,
            "INDICATOR_COMPETITIVE_MODES": settings.INDICATOR_COMPETITIVE_MODES,
        }

    def select(self, scope: Scope) -> tuple[str, list[Any]]:
        # Real times where the file has them; a date alone runs from 00:00:00 on the
        # published day to 23:59:59 on the closing day (OCDS's rule), Philippine time, so
        # between two dates alone the whole days are the difference of the dates.
        mode, mode_params = competitive("n.procurement_mode")
        threshold, threshold_params = threshold_sql("n.procurement_mode")
        sql = (
            "SELECT id AS notice_id, NULL::bigint AS award_id, organization_id, NULL::bigint AS supplier_id, "
            "1.0::float AS value, jsonb_build_object("
            "'published', COALESCE(published_at::text, published_date::text), "
            "'closing', COALESCE(closing_at::text, closing_date::text), "
            "'days', days, 'threshold', threshold, 'mode', procurement_mode) AS evidence FROM ("
            "SELECT n.id, n.organization_id, n.published_date, n.closing_date, n.published_at, n.closing_at, "
            "n.procurement_mode, "
            f"{WHOLE_DAYS} AS days, {threshold} AS threshold "
            f"FROM explorer_notice n WHERE {scope.on('n.id')} AND {mode} "
            f"AND {NOT_CANCELLED.format(column='n.status')} "
            "AND n.published_date IS NOT NULL AND n.closing_date IS NOT NULL) s "
            "WHERE days >= 0 AND days < threshold"
        )
        return sql, [*threshold_params, *mode_params]
