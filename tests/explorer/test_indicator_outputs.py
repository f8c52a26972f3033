"""`manage.py indicators OUT.json` (Cardinal's shape) and the staff `indicators` job."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command

from explorer import ocds
from explorer.indicators import engine
from explorer.models import Award, IndicatorResult, Notice, Supplier
from tests.explorer.test_indicators import D, award, notice
from tests.jobs.helpers import api_submit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def data(settings):
    settings.INDICATOR_R048_MIN_PROCESSES = 3
    short = notice(closing=D + dt.timedelta(days=1))
    award(short, amount="10", day=D + dt.timedelta(days=30))
    no_ref = notice(closing=D + dt.timedelta(days=2))
    Notice.objects.filter(id=no_ref.id).update(reference_number="")
    for s in range(8):
        for i in range(3):
            award(notice(), who=f"S{s}", unspsc="43211500" if s % 2 or i else "44111500")
    for seg in ("10", "20", "30", "40", "50", "60"):
        award(notice(), who="WIDE CO", unspsc=f"{seg}111111")
    return short, Notice.objects.get(id=no_ref.id)


def test_the_command_writes_cardinal_shaped_output(data, tmp_path):
    short, no_ref = data
    out = tmp_path / "out.json"
    call_command("indicators", str(out))
    result = json.loads(out.read_text())
    assert set(result) == {"OCID", "Tenderer", "Meta"}
    prefix = "ocds-xxxxxx"
    assert result["OCID"][f"{prefix}-{short.reference_number}"] == {"R003": 1.0}
    assert result["OCID"][f"{prefix}-n{no_ref.key.hex}"] == {"R003": 1.0}
    wide = ocds.party_id("sup", "WIDE CO")
    assert result["Tenderer"] == {wide: {"R048": 6.0}}
    assert set(result["Meta"]["R048"]) == {"q1", "q3", "upper_fence"}
    # Every stored process-level result is in the output, and nothing else.
    pairs = {(ocid, code) for ocid, codes in result["OCID"].items() for code in codes}
    stored = {
        (ocds.ocid(reference_number=r.notice.reference_number, key=r.notice.key), r.code)
        for r in IndicatorResult.objects.exclude(notice=None).select_related("notice")
    }
    assert pairs == stored
    # --stored writes the same results without computing
    IndicatorResult.objects.filter(code="R003").delete()
    call_command("indicators", str(out), "--stored")
    assert all("R003" not in codes for codes in json.loads(out.read_text())["OCID"].values())


def test_the_indicators_job_is_staff_only_and_recomputes(client, alice, staff, data, settings):
    from jobs import execution
    from jobs.models import Job, State

    client.force_login(alice)
    refused = api_submit(client, "indicators")
    assert refused.status_code == 400
    assert "kind" in refused.json()["fields"]

    assert not IndicatorResult.objects.exists()
    client.force_login(staff)
    response = api_submit(client, "indicators", codes=["R003"])
    assert response.status_code == 201, response.content
    execution.execute(response.json()["id"], redelivered=False, worker="inline")
    job = Job.objects.get(pk=response.json()["id"])
    assert job.state == State.SUCCEEDED, job.error
    assert set(IndicatorResult.objects.values_list("code", flat=True)) == {"R003"}
    assert job.result["results"] == {"R003": 2}
    # After a settings change a full run takes the new threshold.
    settings.INDICATOR_R003_DAYS = 2
    response = api_submit(client, "indicators")
    execution.execute(response.json()["id"], redelivered=False, worker="inline")
    assert IndicatorResult.objects.filter(code="R003").count() == 1
    assert Award.objects.filter(flags__contains=["R048"]).count() == 6
    assert Supplier.objects.get(name="WIDE CO").awards.filter(flags__contains=["R048"]).count() == 6


def test_an_import_after_a_full_run_changes_only_what_it_touches(data):
    engine.compute_all()
    before = dict(Award.objects.values_list("id", "flags"))
    marks = engine.high_water_marks()
    n = notice(closing=D + dt.timedelta(days=3))
    new = award(n, amount="5")
    done = engine.compute_after_import(notice_after=marks[0], award_after=marks[1])
    after = dict(Award.objects.values_list("id", "flags"))
    assert after.pop(new.id) == ["R003"]
    assert after == before
    assert done.notices_in_scope >= 1
