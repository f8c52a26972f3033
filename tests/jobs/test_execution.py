"""One attempt of a job: the claim and the final write, each one compare-and-set.

The fragment a worker pushes carries the sequence number it wrote without reading the row
back, so these tests check that the number the worker holds is the one in the database,
also when another process bumps it between the worker's read and its write.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection

from jobs import execution
from jobs.models import Job, State

pytestmark = pytest.mark.django_db


def queued_ping(owner) -> Job:  # type: ignore[no-untyped-def]
    return Job.objects.create(
        owner=owner, kind="ping", params={}, params_hash="x", queue="interactive", progress_seq=3
    )


@contextmanager
def bump_before_first(statement: str, job: Job) -> Iterator[list[int]]:
    """Another process bumps the job's sequence number just before the first statement
    that starts with `statement` runs (the race between a worker's read and its write)."""
    bumped: list[int] = []

    def wrapper(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if not bumped and sql.startswith(statement):
            bumped.append(1)
            Job.objects.filter(pk=job.pk).update(progress_seq=job.progress_seq + 10)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield bumped


def test_claim_starts_a_queued_job_and_knows_the_sequence_number_it_wrote(staff):
    job = queued_ping(staff)

    claimed = execution.claim(str(job.id), redelivered=False, worker="w1")

    assert claimed is not None
    stored = Job.objects.get(pk=job.pk)
    assert (stored.state, stored.attempts, stored.worker) == (State.RUNNING, 1, "w1")
    assert stored.progress_message == "Starting"
    assert stored.started_at is not None
    assert [entry["event"] for entry in stored.history] == ["started"]
    assert stored.history[0]["attempt"] == 1
    assert claimed.progress_seq == stored.progress_seq == 4
    assert (claimed.state, claimed.attempts, claimed.history) == (stored.state, 1, stored.history)


def test_a_duplicate_delivery_does_not_claim_a_running_job_but_a_redelivery_takes_it_over(staff):
    job = queued_ping(staff)
    first = execution.claim(str(job.id), redelivered=False, worker="w1")
    assert first is not None

    assert execution.claim(str(job.id), redelivered=False, worker="w2") is None
    taken = execution.claim(str(job.id), redelivered=True, worker="w2")

    assert taken is not None
    stored = Job.objects.get(pk=job.pk)
    assert (stored.attempts, stored.worker, taken.attempts) == (2, "w2", 2)
    assert [entry["event"] for entry in stored.history] == ["started", "restarted after the worker was lost"]
    assert stored.started_at == first.started_at  # the job's start, not the attempt's
    assert taken.progress_seq == stored.progress_seq


def test_claim_reads_again_when_the_sequence_number_moved_under_it(staff):
    job = queued_ping(staff)

    with bump_before_first("UPDATE", job) as bumped:
        claimed = execution.claim(str(job.id), redelivered=False, worker="w1")

    assert bumped
    assert claimed is not None
    stored = Job.objects.get(pk=job.pk)
    assert stored.state == State.RUNNING
    assert stored.attempts == 1
    assert claimed.progress_seq == stored.progress_seq == job.progress_seq + 11


def test_the_final_write_carries_the_stored_sequence_number_after_a_concurrent_bump(staff):
    job = queued_ping(staff)
    claimed = execution.claim(str(job.id), redelivered=False, worker="w1")
    assert claimed is not None

    with bump_before_first("UPDATE", claimed) as bumped:
        assert execution._finish(claimed, State.SUCCEEDED, message="Done")

    assert bumped
    stored = Job.objects.get(pk=job.pk)
    assert stored.state == State.SUCCEEDED
    assert stored.progress_message == "Done"
    assert claimed.progress_seq == stored.progress_seq
    assert [entry["event"] for entry in stored.history] == ["started", "succeeded"]


def test_the_final_write_of_a_lost_attempt_changes_nothing(staff):
    job = queued_ping(staff)
    stale = execution.claim(str(job.id), redelivered=False, worker="w1")
    assert stale is not None
    assert execution.claim(str(job.id), redelivered=True, worker="w2") is not None

    assert execution._finish(stale, State.SUCCEEDED, message="Done") is False
    stored = Job.objects.get(pk=job.pk)
    assert stored.state == State.RUNNING
    assert stored.attempts == 2


@pytest.mark.django_db(transaction=True)  # execute() closes connections left in a transaction
def test_a_whole_run_ends_with_the_sequence_number_in_the_database(staff):
    job = queued_ping(staff)

    assert execution.execute(str(job.id), redelivered=False, worker="inline") == "succeeded"

    stored = Job.objects.get(pk=job.pk)
    assert stored.state == State.SUCCEEDED
    assert stored.progress_seq == job.progress_seq + 2  # "Starting", then the final state
