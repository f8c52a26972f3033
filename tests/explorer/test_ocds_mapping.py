"""PhilGEPS texts to OCDS closed codelists, party ids and dates (explorer/ocds.py)."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

import orjson
import pytest

from explorer import demo, ocds
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


@pytest.mark.parametrize(("mode", "code"), EXPECTED_METHODS.items())
def test_procurement_modes_map_to_the_closed_codelist(mode, code):
    assert ocds.method(mode) == code


def test_every_mode_in_the_samples_and_the_demo_data_has_a_method():
    modes = {m for m, _ in demo.MODES}
    for name in ("philgeps-v2-2024q4-sample-200.csv", "philgeps-v1-2023-sample-11.csv"):
        with shared_file(name).open(encoding="utf-8-sig") as handle:
            modes |= {row["Procurement Mode"] for row in csv.DictReader(handle)}

    assert {mode for mode in modes if ocds.method(mode) is None} == set()


def test_categories_and_statuses():
    assert [ocds.category(c) for c in ("Goods", "Civil Works", "Consulting Services")] == [
        "goods",
        "works",
        "services",
    ]
    assert ocds.category("Goods - General Support Services") == "services"
    assert ocds.TENDER_STATUS == {
        "awarded": "complete",
        "closed": "active",
        "cancelled": "cancelled",
        "failed": "unsuccessful",
    }


def test_party_ids_come_from_the_normalised_name_and_the_side():
    assert ocds.party_id("sup", "ACME  Corp ") == ocds.party_id("sup", "acme corp")
    assert ocds.party_id("sup", "ACME CORP") != ocds.party_id("org", "ACME CORP")
    assert ocds.party_id("org", "X").startswith("PH-PGEPS-org-")


def test_dates_are_full_date_times_in_manila_time_and_amounts_keep_their_digits():
    day = dt.date(2024, 10, 21)

    assert ocds.start(day) == "2024-10-21T00:00:00+08:00"
    assert ocds.end(day) == "2024-10-21T23:59:59+08:00"
    assert orjson.dumps({"a": ocds.number(Decimal("12345678901234.57"))}) == b'{"a":12345678901234.57}'


def test_empty_values_are_left_out_everywhere():
    pruned = ocds._pruned({"a": "", "b": None, "c": [], "d": {"e": ""}, "f": [{"g": None}], "h": "x", "i": 0})

    assert pruned == {"h": "x", "i": 0}
