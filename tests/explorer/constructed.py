"""Selections built award by award, where the truth is known (for the report's tests)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from decimal import Decimal

from explorer.models import Award, Notice, Organization, Supplier


def add_awards(
    rows: Iterable[tuple[str, str | None, float, str, dt.date | None]],
) -> int:
    """Awards from (organization, supplier, amount, mode, award date); one notice each."""
    orgs: dict[str, Organization] = {}
    suppliers: dict[str, Supplier] = {}
    notices, awards = [], []
    for org_name, supplier_name, amount, mode, day in rows:
        org = orgs.get(org_name) or Organization.objects.get_or_create(name=org_name)[0]
        orgs[org_name] = org
        supplier = None
        if supplier_name:
            supplier = suppliers.get(supplier_name) or Supplier.objects.get_or_create(name=supplier_name)[0]
            suppliers[supplier_name] = supplier
        notice = Notice(key=uuid.uuid4(), title="Constructed", organization=org, procurement_mode=mode)
        notices.append(notice)
        awards.append(
            Award(
                key=uuid.uuid4(), notice=notice, organization=org, supplier=supplier,
                amount=Decimal(f"{amount:.2f}"), procurement_mode=mode, award_date=day, title="Constructed",
            )
        )  # fmt: skip
    Notice.objects.bulk_create(notices, batch_size=2000)
    Award.objects.bulk_create(awards, batch_size=2000)
    return len(awards)
