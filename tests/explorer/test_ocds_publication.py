"""OCDS releases of the real samples: valid with zero problems, and a full round trip."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import Sum

from explorer import ocds
from explorer.importer import import_file
from explorer.models import Award, Notice
from tests.conftest import shared_file
from tests.ocds_check import problems, read_zip

pytestmark = pytest.mark.django_db(transaction=True)

V2 = "philgeps-v2-2024q4-sample-200.csv"
V1 = "philgeps-v1-2023-sample-11.csv"


@pytest.fixture
def samples(settings):
    settings.OCDS_OCID_PREFIX = "ocds-abc123"
    import_file(shared_file(V2))
    import_file(shared_file(V1))


@pytest.fixture
def exported(samples, tmp_path: Path) -> Path:
    out = tmp_path / "all.zip"
    call_command("export_ocds", str(out))
    return out


def compiled_package(compiled: list[dict]) -> dict:
    meta = ocds.package_metadata(uri="https://example.org/compiled", published=dt.datetime.now(dt.UTC))
    return {**meta, "releases": compiled}


def test_every_package_and_every_compiled_release_of_the_samples_has_zero_problems(exported):
    packages, compiled = read_zip(exported)

    assert list(packages) == ["releases-0001.json"]
    for name, package in packages.items():
        assert problems(package) == {}, name
    assert problems(compiled_package(compiled)) == {}


def test_round_trip_every_notice_and_award_once_and_the_money_adds_up(exported):
    packages, compiled = read_zip(exported)
    releases = [r for p in packages.values() for r in p["releases"]]
    awards = [a for r in releases for a in r.get("awards", [])]
    db_total = Award.objects.aggregate(total=Sum("amount"))["total"]

    assert sorted(r["ocid"] for r in releases) == sorted(
        ocds.ocid(reference_number=n.reference_number, key=n.key) for n in Notice.objects.all()
    )
    assert len({r["ocid"] for r in releases}) == Notice.objects.count()
    assert sorted(a["id"] for a in awards) == sorted(a.key.hex for a in Award.objects.all())
    assert sum((a["value"]["amount"] for a in awards if "value" in a), Decimal(0)) == db_total
    assert [c["ocid"] for c in compiled] == [r["ocid"] for r in releases]
    assert {tuple(c["tag"]) for c in compiled} == {("compiled",)}


def test_a_broken_release_is_caught(exported):
    packages, _ = read_zip(exported)
    package = copy.deepcopy(packages["releases-0001.json"])
    broken = package["releases"][0]
    broken["tender"]["status"] = "awarded"  # not in the closed codelist
    broken["tender"]["title"] = ""  # an empty string
    broken["planning"] = {"budget": {"amount": {"amount": "a lot", "currency": "PHP"}}}
    broken["extra"] = 1
    del broken["date"]

    found = problems(package)

    assert set(found) >= {"validation_errors", "additional_closed_codelist_values", "additional_fields"}
