"""The report on the real DPWH flood-control awards (../shared/data, one row per award),
imported by the real importer from a PhilGEPS-layout (S3) CSV written in tmp."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from explorer import redflags, report
from explorer.importer import import_file
from explorer.models import Award, ImportRun
from tests.conftest import shared_file

pytestmark = pytest.mark.django_db

DPWH = "dpwh-flood-control-2022-2025.csv"
S3_HEADER = [
    "Procuring Entity", "Bid Reference No.", "Solicitation No.", "Notice Title", "Notice Type",
    "Classification", "Procurement Mode", "Business Category", "Funding Source", "Funding Instrument",
    "Trade Agreement", "Approved Budget of the Contract", "Published Date", "Closing Date", "PreBid Date",
    "Area of Delivery", "Contract Duration", "Calendar Type", "Line Item No", "Item Name",
    "Item Description", "Quantity", "UOM", "Item Budget", "Notice Status", "Created By", "Award No.",
    "Award Title", "Award Type", "UNSPSC Code", "UNSPSC Description", "Published Date(Award)",
    "Award Date", "Notice to Proceed Date", "Contract No", "Contract Amount", "Contract Efectivity Date",
    "Contract End Date", "Award Status", "Reason for Award", "Awardee Organization Name",
    "Awardee Contact Person", "List of Bidder's",
]  # fmt: skip


def philgeps_layout(source: Path, target: Path) -> int:
    """One S3 row per DPWH award: no bid reference (the award number keys the notice), no
    procurement mode (the DPWH file has none), every other unknown column NULL."""
    with source.open(encoding="utf-8", newline="") as handle:
        awards = list(csv.DictReader(handle))
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, S3_HEADER, restval="NULL", lineterminator="\r\n")
        writer.writeheader()
        for number, row in enumerate(awards, start=1):
            writer.writerow(
                {
                    "Procuring Entity": row["organization_name"],
                    "Bid Reference No.": "0",
                    "Notice Title": row["notice_title"] or row["award_title"],
                    "Classification": "Civil Works",
                    "Business Category": row["business_category"],
                    "Area of Delivery": row["area_of_delivery"],
                    "Notice Status": "Awarded",
                    "Award No.": f"DPWH-FC-{number:06d}",
                    "Award Title": row["award_title"],
                    "Award Date": f"{row['award_date']} 00:00:00.000" if row["award_date"] else "NULL",
                    "Contract No": row["contract_number"],
                    "Contract Amount": row["contract_amount"],
                    "Award Status": "Awarded",
                    "Awardee Organization Name": row["awardee_name"],
                }
            )
    return len(awards)


@pytest.fixture
def dpwh(tmp_path):
    path = tmp_path / "dpwh-as-philgeps.csv"
    rows = philgeps_layout(shared_file(DPWH), path)
    run = import_file(path)
    assert run.status == ImportRun.Status.SUCCEEDED, run.message
    return rows, run


def test_the_report_on_the_dpwh_flood_control_awards(dpwh):
    rows, run = dpwh
    assert run.rows_failed == 0
    assert Award.objects.count() == rows  # one award per row, none lost or doubled

    data = report.build(Award.objects.all())
    if os.environ.get("DPWH_REPORT_OUT"):  # what the lead's note quotes
        Path(os.environ["DPWH_REPORT_OUT"]).write_text(json.dumps(data, indent=1, default=str))

    # First digits: 4 and 9 far above Benford, for the selection as a whole.
    overall = data["benford"]["overall"]
    assert overall["flag"]
    for digit in ("4", "9"):
        assert overall["shares"][digit] > 1.5 * redflags.BENFORD[int(digit)]
    selection = {f["analysis"]: f for f in data["findings"] if f["scope"] == "selection"}
    assert "benford" in selection

    # Amounts bunched just under PHP 50 M and 100 M, against the smooth density.
    bunching = {t["threshold"]: t["bunching"] for t in data["thresholds"]}
    for threshold in (50_000_000, 100_000_000):
        assert bunching[threshold]["flag"], bunching[threshold]
        assert bunching[threshold]["ratio"] > 1.0  # more than twice the counterfactual
    names = {f["name"] for f in data["findings"] if f["scope"] == "selection"}
    assert "All awards just below PHP 50,000,000" in names
    assert "All awards just below PHP 100,000,000" in names

    # A few district offices with hundreds of awards each.
    big = [name for name, n, _ in data["top"]["organizations"] if n >= 200]
    assert big
    offices = {row[0]: row[1] for row in data["top"]["organizations"]}
    assert max(offices.values()) >= 300
