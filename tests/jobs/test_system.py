"""The staff System page: each figure, its "unavailable" state, and who may see it."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from kombu import Connection

from jobs import system
from jobs.models import Job, State

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_job(owner, *, kind="export", state=State.SUCCEEDED, wait=None, run=None, finished_ago=60):  # type: ignore[no-untyped-def]
    """A job that waited `wait` seconds in the queue and ran for `run` seconds."""
    finished = timezone.now() - timedelta(seconds=finished_ago)
    started = finished - timedelta(seconds=run) if run is not None else None
    job = Job.objects.create(
        kind=kind, owner=owner, params={}, params_hash=f"h{Job.objects.count()}", state=state
    )
    created = (started or finished) - timedelta(seconds=wait or 0)
    Job.objects.filter(pk=job.pk).update(
        created_at=created, started_at=started, finished_at=finished if state != State.QUEUED else None
    )
    return job


def test_anonymous_users_are_sent_to_the_login_page(client):
    response = client.get("/system/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_analysts_get_a_404(alice_client):
    assert alice_client.get("/system/").status_code == 404


def test_staff_see_the_page_and_the_nav_link(client, staff, alice):
    client.force_login(staff)

    response = client.get("/system/")

    assert response.status_code == 200
    assert b'href="/system/"' in response.content
    client.force_login(alice)
    assert b'href="/system/"' not in client.get("/jobs/").content


def test_jobs_per_state_and_failures_in_the_last_day(client, staff, alice):
    make_job(alice, state=State.QUEUED)
    make_job(alice, state=State.RUNNING, wait=1, run=1)
    make_job(alice, state=State.FAILED, wait=1, run=1)
    make_job(alice, state=State.FAILED, wait=1, run=1, finished_ago=25 * 3600)  # too old to count
    client.force_login(staff)

    response = client.get("/system/")

    assert response.context["states"] == {
        "Queued": 1,
        "Running": 1,
        "Succeeded": 0,
        "Failed": 2,
        "Cancelled": 0,
        "Expired": 0,
    }
    assert response.context["failures"] == 1
    assert b'data-state="failed"><td>Failed</td><td class="num">2</td>' in response.content


def test_median_and_p95_wait_and_run_time_per_kind_over_the_last_day(alice):
    for wait, run in ((1, 10), (2, 20), (3, 30), (5, 40)):
        make_job(alice, wait=wait, run=run)
    make_job(alice, kind="report", state=State.FAILED, wait=5, run=7)
    make_job(alice, wait=100, run=100, finished_ago=2 * 86400)  # outside the day
    make_job(alice, state=State.CANCELLED, wait=50)  # cancelled while queued: never started

    rows = {row.kind: row for row in system.timings()}

    # percentile_cont: linear interpolation between the closest ranks.
    assert rows["export"] == system.Timing("export", 4, 2.5, 4.7, 25.0, 38.5)
    assert rows["report"] == system.Timing("report", 1, 5.0, 5.0, 7.0, 7.0)
    assert set(rows) == {"export", "report"}
    chart = system.timing_chart(list(rows.values()))
    assert chart["labels"] == ["export", "report"]
    assert chart["series"][3] == {"label": "Run, p95", "values": [38.5, 7.0]}


def test_the_chart_data_is_on_the_page(client, staff, alice):
    make_job(alice, wait=2, run=3)
    client.force_login(staff)

    response = client.get("/system/")

    assert b'<canvas data-chart="bar" data-source="timing-data"' in response.content
    assert b'<script id="timing-data" type="application/json">' in response.content


def test_the_page_answers_with_the_broker_and_redis_down(client, staff, settings):
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{closed_port()}//"
    settings.LOCAL_WORKER = False
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    client.force_login(staff)

    response = client.get("/system/")

    assert response.status_code == 200
    assert response.context["queues"] is None
    assert response.context["workers"] is None
    assert response.context["channel_layer_ok"] is False
    assert b"Broker unavailable" in response.content
    assert b"Workers unavailable" in response.content


def test_the_page_is_a_handful_of_queries(client, staff, alice, django_assert_max_num_queries):
    for _ in range(5):
        make_job(alice, wait=1, run=1)
    client.force_login(staff)

    with django_assert_max_num_queries(6):  # session, user, states, failures, timings
        client.get("/system/")


@pytest.mark.services
def test_queue_depth_counts_waiting_messages_on_the_real_broker():
    with Connection(settings.CELERY_BROKER_URL) as broker:
        channel = broker.channel()
        for queue in settings.CELERY_TASK_QUEUES:
            queue(channel).declare()
            queue(channel).purge()
        producer = broker.Producer(channel)
        for _ in range(2):
            producer.publish({"probe": True}, exchange="bulk", routing_key="bulk", serializer="json")
        try:
            depths = {queue.name: queue.messages for queue in system.queue_depths() or []}
        finally:
            channel.queue_purge("bulk")

    assert depths == {"interactive": 0, "bulk": 2}
