"""PhilGEPS texts to OCDS closed codelists, party ids and dates (explorer/ocds.py's SQL)."""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.db import connection

from explorer import demo, ocds
from explorer.models import Notice, Organization
from tests.conftest import shared_file

EXPECTED_METHODS = {
    "Public Bidding": "open",
    "International Competitive Bidding": "open",
    "Limited Source Bidding (Sec. 49)": "selective",
    "Negotiated Procurement - Small Value Procurement (Sec. 53.9)": "limited",
    "Negotiated Procurement - Two Failed Biddings (Sec. 53.1)": "limited",
    "Negotiated Procurement - Emergency Cases (Sec. 53.2)": "limited",
    "Negotiated Procurement - Community Participation (Sec. 53.12)": "limited",
    "Negotiated Procurement - NGO Participation (Sec. 53.11)": "limited",
    "Negotiated Procurement - United Nations Agencies (Sec. 53.13)": "limited",
    "Shopping - Unforeseen Contingency (Sec. 52.1.a)": "limited",
    "Shopping": "limited",
    "Direct Contracting (Sec. 50)": "direct",
    "Negotiated Procurement - Agency to Agency (Sec. 53.5)": "direct",
    "Negotiated Procurement - Lease of Real Property (Sec. 53.10)": "direct",
    "Negotiated Procurement - Defense Cooperation Agreement (Sec. 53.8)": "direct",
    "Negotiated Procurement - Highly Technical Consultants (Sec. 53.7)": "direct",
    "NP - Scientific, Scholarly/Artistic Work, Exclusive Tech. & Media Service (53.6)": "direct",
    "Direct Retail Purchase of POL and Airline Tickets (Sec. 53.14)": "direct",
    "Renewal of Regular and Recurring Sevices per Appendix 37": "direct",
}


def mapped(expression, values: list[str]) -> list[str | None]:
    """`expression` (an ocds.*_sql builder) of each value, as the release query computes it."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {expression('v.lowered')} FROM unnest(%s::text[]) WITH ORDINALITY AS x(value, ord), "
            "LATERAL (SELECT lower(x.value) AS lowered) v ORDER BY x.ord",
            [values],
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db
def test_procurement_modes_map_to_the_closed_codelist():
    assert dict(zip(EXPECTED_METHODS, mapped(ocds.method_sql, list(EXPECTED_METHODS)), strict=True)) == (
        EXPECTED_METHODS
    )


@pytest.mark.django_db
def test_every_mode_in_the_samples_and_the_demo_data_has_a_method():
    modes = {m for m, _ in demo.MODES}
    for name in ("philgeps-v2-2024q4-sample-200.csv", "philgeps-v1-2023-sample-11.csv"):
        with shared_file(name).open(encoding="utf-8-sig") as handle:
            modes |= {row["Procurement Mode"] for row in csv.DictReader(handle)}
    ordered = sorted(modes)

    assert [
        mode for mode, code in zip(ordered, mapped(ocds.method_sql, ordered), strict=True) if code is None
    ] == []


@pytest.mark.django_db
def test_categories_and_statuses():
    categories = ["Goods", "Civil Works", "Consulting Services", "Goods - General Support Services", "Other"]
    assert mapped(ocds.category_sql, categories) == ["goods", "works", "services", "services", None]
    statuses = ["Awarded", "CLOSED", "cancelled", "Failed", "Active"]
    assert mapped(lambda _: ocds.status_sql("x.value"), statuses) == [
        "complete",
        "active",
        "cancelled",
        "unsuccessful",
        None,
    ]


def test_party_ids_come_from_the_normalised_name_and_the_side():
    assert ocds.party_id("sup", "ACME  Corp ") == ocds.party_id("sup", "acme corp")
    assert ocds.party_id("sup", "ACME CORP") != ocds.party_id("org", "ACME CORP")
    assert ocds.party_id("org", "X").startswith("PH-PGEPS-org-")


NAMES = ["ACME  Corp ", "acme corp", "\tLas Piñas\nCity ", "PARAÑAQUE", "Parañaque", "O'Brien & Sons"]


@pytest.mark.django_db
def test_the_release_query_gives_every_name_the_party_id_python_gives_it():
    """Cardinal's tenderer ids (explorer/indicators/cardinal.py) are computed in Python, the
    releases' in SQL: byte for byte the same, whatever the database's locale."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {ocds._party_sql('sup', 'x')} FROM unnest(%s::text[]) AS x", [NAMES])
        in_sql = [row[0] for row in cursor.fetchall()]

    assert in_sql == [ocds.party_id("sup", name) for name in NAMES]
    assert in_sql[0] == in_sql[1]


@pytest.mark.django_db
def test_dates_are_full_date_times_in_manila_time_and_amounts_keep_their_digits():
    organization = Organization.objects.create(name="CITY OF X")
    notice = Notice.objects.create(
        key=uuid.uuid4(),
        reference_number="123",
        title="Road",
        organization=organization,
        published_date=dt.date(2024, 10, 21),
        closing_date=dt.date(2024, 10, 28),
        approved_budget=Decimal("12345678901234.57"),
    )
    (release,) = ocds.releases_of([notice.id])
    text = release.json()

    assert release.as_dict()["tender"]["tenderPeriod"] == {
        "startDate": "2024-10-21T00:00:00+08:00",
        "endDate": "2024-10-28T23:59:59+08:00",
    }
    assert b'"value":{"amount":12345678901234.57,"currency":"PHP"}' in text
    for empty in (b"null", b'""', b"[]", b"{}"):
        assert empty not in text


def test_empty_values_are_left_out_everywhere():
    pruned = ocds._pruned({"a": "", "b": None, "c": [], "d": {"e": ""}, "f": [{"g": None}], "h": "x", "i": 0})

    assert pruned == {"h": "x", "i": 0}
