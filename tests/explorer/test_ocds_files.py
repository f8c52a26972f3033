"""OCDS files: the export job's ZIP, the nightly files at stable URLs, the Data page."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db.models import Sum
from django.urls import reverse

from explorer import ocds, ocds_bulk, publication
from explorer.importer import import_file
from explorer.models import Award, Notice
from explorer.tasks import publish_ocds
from jobs.kinds.base import Reporter, Run, Written
from jobs.kinds.export import FORMATS
from jobs.models import Job
from tests.conftest import shared_file
from tests.ocds_check import problems, read_zip

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def samples(settings, tmp_path):
    settings.OCDS_OCID_PREFIX = "ocds-abc123"
    settings.OCDS_PUBLISH_ROOT = tmp_path / "ocds"
    settings.EXPORT_ROOT = tmp_path / "exports"
    import_file(shared_file("philgeps-v2-2024q4-sample-200.csv"))
    import_file(shared_file("philgeps-v1-2023-sample-11.csv"))


def releases_in(path: Path) -> list[dict]:
    packages, _ = read_zip(path)
    return [r for p in packages.values() for r in p["releases"]]


def test_the_export_format_writes_the_notices_behind_the_matching_awards(samples, alice):
    supplier = Award.objects.filter(supplier__isnull=False).values_list("supplier__name", flat=True).first()
    job = Job(kind="export", owner=alice, params={"format": "ocds", "filters": {"supplier": supplier}})
    updates: list[int] = []
    run = Run(job=job, reporter=Reporter(job, write=lambda j: updates.append(j.progress_done) or Written.OK))
    awards = run.awards()
    path = run.temp_file(".zip")

    written = FORMATS["ocds"].write(run, awards, path, awards.count())

    releases = releases_in(path)
    expected = Notice.objects.filter(awards__in=awards).distinct()
    assert sorted(r["ocid"] for r in releases) == sorted(
        ocds.ocid(reference_number=n.reference_number, key=n.key) for n in expected
    )
    assert written == Award.objects.filter(notice__in=expected).count()
    assert updates[-1] == awards.count()  # the last progress write is the whole
    packages, compiled = read_zip(path)
    assert all(problems(p) == {} for p in packages.values())
    assert [c["ocid"] for c in compiled] == [r["ocid"] for r in releases]
    assert FORMATS["ocds"].content_type == "application/zip"


def test_packages_split_at_the_award_limit_and_keep_every_release_once(samples, tmp_path):
    out = tmp_path / "split.zip"
    counts = ocds_bulk.write_zip(
        out,
        ocds.notice_ids(Notice.objects.all()),
        uri="https://example.org/x",
        published=dt.datetime.now(dt.UTC),
        max_awards=20,
    )
    packages, compiled = read_zip(out)

    assert len(packages) == len(counts.packages) > 3
    for package in packages.values():
        assert (
            sum(len(r.get("awards", [])) for r in package["releases"]) <= 20 or len(package["releases"]) == 1
        )
        assert package["uri"].startswith("https://example.org/x/releases-")
    releases = [r for p in packages.values() for r in p["releases"]]
    assert len(releases) == len({r["ocid"] for r in releases}) == Notice.objects.count() == len(compiled)


def test_publish_writes_the_whole_file_and_one_per_year_at_stable_urls(samples, client):
    index = publish_ocds.apply().get()
    assert index["files"] >= 2
    listed = publication.published_files()["files"]
    names = [f["name"] for f in listed]
    root = Path(django_settings.OCDS_PUBLISH_ROOT)

    assert names[0] == publication.ALL_NAME
    everything = releases_in(root / publication.ALL_NAME)
    yearly = [r for name in names[1:] for r in releases_in(root / name)]
    assert sorted(r["id"] for r in yearly) == sorted(r["id"] for r in everything)
    assert len(everything) == Notice.objects.count()
    for name in names[1:]:
        year = name.removeprefix("philgeps-ocds-").removesuffix(".zip")
        assert {r["date"][:4] for r in releases_in(root / name)} == {year}
    for name in names:
        packages, _ = read_zip(root / name)
        assert all(problems(p) == {} for p in packages.values()), name
        assert all(p["uri"].endswith(f"/data/ocds/{name}/" + n) for n, p in packages.items())

    page = client.get(reverse("explorer:data"))  # public, like the files
    assert page.status_code == 200
    for name in names:
        assert f'data-ocds-file="{name}"' in page.content.decode()


def test_a_file_has_last_modified_and_answers_304_until_it_changes(samples, client):
    publication.publish()
    url = reverse("explorer:data-file", args=[publication.ALL_NAME])

    first = client.get(url)
    modified = first["Last-Modified"]
    unchanged = client.get(url, HTTP_IF_MODIFIED_SINCE=modified)
    assert first.status_code == 200
    assert (
        "compiled-releases.jsonl" in zipfile.ZipFile(io.BytesIO(b"".join(first.streaming_content))).namelist()
    )
    assert unchanged.status_code == 304
    path = Path(django_settings.OCDS_PUBLISH_ROOT) / publication.ALL_NAME
    assert parsedate_to_datetime(modified).timestamp() == int(path.stat().st_mtime)

    earlier = parsedate_to_datetime(modified) - dt.timedelta(days=1)
    assert client.get(url, HTTP_IF_MODIFIED_SINCE=format_datetime(earlier, usegmt=True)).status_code == 200
    assert client.get("/data/ocds/..%2Fsettings.py").status_code == 404
    assert client.get("/data/ocds/index.json").status_code == 404
    assert client.get(reverse("explorer:data-file", args=["philgeps-ocds-1999.zip"])).status_code == 404


def test_a_release_id_changes_exactly_when_its_content_does(samples, tmp_path):
    def ids() -> dict[str, str]:
        found = (r.as_dict() for r in ocds.releases(ocds.notice_ids(Notice.objects.all())))
        return {r["ocid"]: r["id"] for r in found}

    before = ids()
    again = ids()
    award = Award.objects.filter(amount__isnull=False).first()
    Award.objects.filter(pk=award.pk).update(amount=award.amount + Decimal("1.00"))
    after = ids()
    changed = ocds.ocid(reference_number=award.notice.reference_number, key=award.notice.key)

    assert again == before
    assert {o for o in before if before[o] != after[o]} == {changed}


def test_sum_of_award_values_in_the_file_equals_the_database(samples, tmp_path):
    out = tmp_path / "all.zip"
    ocds_bulk.write_zip(
        out, ocds.notice_ids(Notice.objects.all()), uri="https://e.org", published=dt.datetime.now(dt.UTC)
    )
    awards = [a for r in releases_in(out) for a in r.get("awards", [])]

    assert (
        sum((a["value"]["amount"] for a in awards if "value" in a), Decimal(0))
        == Award.objects.aggregate(t=Sum("amount"))["t"]
    )


def test_the_nightly_task_is_registered_and_scheduled_on_the_bulk_queue():
    from config.celery import app

    app.loader.import_default_modules()
    entry = django_settings.CELERY_BEAT_SCHEDULE["publish-ocds-files"]

    assert entry["task"] in app.tasks
    assert entry["options"]["queue"] == "bulk"
    assert app.tasks[entry["task"]].acks_late is False  # hours of work: not held against the consumer timeout
