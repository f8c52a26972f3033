"""The stored results in the output shape of OCP's Cardinal (`cardinal indicators`):
{"OCID": {ocid: {code: value}}, "Tenderer": {party id: {code: value}}, "Meta": {...}}.

Process- and award-level results go under the notice's ocid (explorer/ocds.py), with
1.0 as Cardinal writes for a flagged process; supplier-level ones (R048) under the
supplier's OCDS party id with their value (the number of segments). Codes of our own
carry the `PH` prefix.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from explorer import ocds
from explorer.indicators import INDICATORS


def output(meta: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    by_ocid: dict[str, dict[str, float]] = {}
    tenderers: dict[str, dict[str, float]] = {}
    r048_meta: dict[str, Any] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.reference_number, n.key, r.code, max(r.value) FROM explorer_indicatorresult r "
            "JOIN explorer_notice n ON n.id = r.notice_id WHERE r.notice_id IS NOT NULL "
            "GROUP BY n.reference_number, n.key, r.code ORDER BY n.key, r.code"
        )
        for reference, key, code, value in cursor:
            by_ocid.setdefault(ocds.ocid(reference_number=reference, key=key), {})[code] = float(value)
        cursor.execute(
            "SELECT s.name, r.code, r.value, r.evidence FROM explorer_indicatorresult r "
            "JOIN explorer_supplier s ON s.id = r.supplier_id WHERE "
            "r.scope = 'supplier' ORDER BY s.name, r.code"
        )
        for name, code, value, evidence in cursor:
            tenderers.setdefault(ocds.party_id("sup", name), {})[code] = float(value)
            if code == "R048" and not r048_meta:
                data = evidence if isinstance(evidence, dict) else {}
                r048_meta = {k: data[k] for k in ("q1", "q3", "upper_fence") if k in data}
    meta_out: dict[str, Any] = {}
    r048 = (meta or {}).get("R048") or r048_meta
    if r048:
        meta_out["R048"] = {k: r048[k] for k in ("q1", "q3", "upper_fence") if k in r048}
    meta_out["PhilGEPS"] = {
        "generated": timezone.now().isoformat(),
        "ocid_prefix": settings.OCDS_OCID_PREFIX,
        "indicators": {
            code: {"label": i.label, "source": i.source, "scope": i.scope, "settings": i.settings()}
            for code, i in INDICATORS.items()
        },
    }
    return {"OCID": by_ocid, "Tenderer": tenderers, "Meta": meta_out}
