"""Round trip at scale: 100,000 seeded awards exported by `manage.py export_ocds` come
back as every notice once, every award once, and the same total amount."""

from __future__ import annotations

import zipfile
from decimal import Decimal

import ijson  # streaming JSON parser (a dependency of libcoveocds): no 100k releases in memory
import pytest
from django.core.management import call_command
from django.db.models import Sum

from explorer import demo, ocds
from explorer.models import Award, Notice
from explorer.ocds_bulk import COMPILED_NAME

pytestmark = pytest.mark.django_db(transaction=True)


def test_100k_seeded_awards_round_trip(tmp_path, settings):
    settings.OCDS_OCID_PREFIX = "ocds-abc123"
    demo.seed(awards=100_000, seed=7)
    out = tmp_path / "all.zip"

    call_command("export_ocds", str(out))

    ocids: list[str] = []
    award_ids: list[str] = []
    total = Decimal(0)
    with zipfile.ZipFile(out) as archive:
        names = [n for n in archive.namelist() if n.endswith(".json")]
        for name in names:
            with archive.open(name) as handle:
                for release in ijson.items(handle, "releases.item", use_float=False):
                    ocids.append(release["ocid"])
                    for award in release.get("awards", []):
                        award_ids.append(award["id"])
                        total += Decimal(str(award["value"]["amount"])) if "value" in award else 0
        with archive.open(COMPILED_NAME) as handle:
            compiled = sum(1 for _ in handle)

    expected_ocids = [
        ocds.ocid(reference_number=ref, key=key)
        for ref, key in Notice.objects.values_list("reference_number", "key")
    ]
    assert Award.objects.count() == 100_000
    assert len(ocids) == len(set(ocids)) == compiled
    assert sorted(ocids) == sorted(expected_ocids)
    assert len(award_ids) == len(set(award_ids)) == 100_000
    assert set(award_ids) == {key.hex for key in Award.objects.values_list("key", flat=True)}
    assert total == Award.objects.aggregate(total=Sum("amount"))["total"]
