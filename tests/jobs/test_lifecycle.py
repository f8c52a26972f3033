"""The job lifecycle: the claim and the final write, each one compare-and-set.

The fragment a worker pushes carries the sequence number it wrote without reading the row
back, so these tests check that the number the worker holds is the one in the database,
also when another process bumps it between the worker's read and its write.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection

from jobs import execution, lifecycle
from jobs.kinds.base import Written
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

    claimed = lifecycle.claim(str(job.id), redelivered=False, worker="w1")

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
    first = lifecycle.claim(str(job.id), redelivered=False, worker="w1")
    assert first is not None

    assert lifecycle.claim(str(job.id), redelivered=False, worker="w2") is None
    taken = lifecycle.claim(str(job.id), redelivered=True, worker="w2")

    assert taken is not None
    stored = Job.objects.get(pk=job.pk)
    assert (stored.attempts, stored.worker, taken.attempts) == (2, "w2", 2)
    assert [entry["event"] for entry in stored.history] == ["started", "restarted after the worker was lost"]
    assert stored.started_at == first.started_at  # the job's start, not the attempt's
    assert taken.progress_seq == stored.progress_seq


def test_claim_reads_again_when_the_sequence_number_moved_under_it(staff):
    job = queued_ping(staff)

    with bump_before_first("UPDATE", job) as bumped:
        claimed = lifecycle.claim(str(job.id), redelivered=False, worker="w1")

    assert bumped
    assert claimed is not None
    stored = Job.objects.get(pk=job.pk)
    assert stored.state == State.RUNNING
    assert stored.attempts == 1
    assert claimed.progress_seq == stored.progress_seq == job.progress_seq + 11


def test_the_final_write_carries_the_stored_sequence_number_after_a_concurrent_bump(staff):
    job = queued_ping(staff)
    claimed = lifecycle.claim(str(job.id), redelivered=False, worker="w1")
    assert claimed is not None

    with bump_before_first("UPDATE", claimed) as bumped:
        assert lifecycle.finish(claimed)

    assert bumped
    stored = Job.objects.get(pk=job.pk)
    assert stored.state == State.SUCCEEDED
    assert stored.progress_message == "Done"
    assert claimed.progress_seq == stored.progress_seq
    assert [entry["event"] for entry in stored.history] == ["started", "succeeded"]


def test_the_final_write_of_a_lost_attempt_changes_nothing(staff):
    job = queued_ping(staff)
    stale = lifecycle.claim(str(job.id), redelivered=False, worker="w1")
    assert stale is not None
    assert lifecycle.claim(str(job.id), redelivered=True, worker="w2") is not None

    assert lifecycle.finish(stale) is False
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


# --- The transition table: every transition from every state ----------------------------

Q, R, S, F, C, E = (
    State.QUEUED,
    State.RUNNING,
    State.SUCCEEDED,
    State.FAILED,
    State.CANCELLED,
    State.EXPIRED,
)
# Each call of the lifecycle: {the state it wins from: the state it leaves}; from any other
# state it must change nothing.
TABLE = {
    "claim": (lambda job: lifecycle.claim(str(job.id), redelivered=False, worker="w") is not None, {Q: R}),
    # A redelivered message starts a queued job, and takes a running one over.
    "claim redelivered": (
        lambda job: lifecycle.claim(str(job.id), redelivered=True, worker="w") is not None,
        {Q: R, R: R},
    ),
    "progress": (lambda job: lifecycle.record_progress(job) is Written.OK, {R: R}),
    "finish": (lifecycle.finish, {R: S}),
    "fail": (lambda job: lifecycle.fail(job, error="It broke."), {Q: F, R: F}),
    "requeue": (lambda job: lifecycle.requeue(job, reason="heartbeat stopped"), {R: Q}),
    "cancel": (lifecycle.cancel, {Q: C, R: R}),  # a running job is asked to stop
    "stop": (lifecycle.stop, {R: C}),
    "expire": (lifecycle.expire, {S: E}),
}


def test_the_table_covers_every_transition_of_the_lifecycle():
    covered = {(source, end) for _, wins in TABLE.values() for source, end in wins.items()}
    declared = {
        (source, target or source) for sources, target in lifecycle.TRANSITIONS.values() for source in sources
    }
    assert covered == declared


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("call", list(TABLE))
def test_every_transition_wins_exactly_from_its_states_with_one_history_entry_and_one_bump(
    staff, call, state
):
    job = Job.objects.create(
        owner=staff, kind="ping", params={}, params_hash="x", queue="interactive", state=state,
        attempts=0 if state == State.QUEUED else 1, progress_seq=5,
        history=[{"at": "2026-01-01T00:00:00+00:00", "event": "created"}],
    )  # fmt: skip
    function, wins = TABLE[call]

    won = function(job)

    stored = Job.objects.get(pk=job.pk)
    assert won is (state in wins)
    if not won:
        assert (stored.state, stored.progress_seq, len(stored.history)) == (state, 5, 1)
        return
    assert stored.state == wins[state]
    assert stored.progress_seq == 6  # exactly one bump
    assert len(stored.history) == (1 if call == "progress" else 2)  # progress is not on the timeline
    if not call.startswith("claim"):  # claim() reads the row by id: there is no caller's instance
        assert (job.state, job.progress_seq, job.history) == (stored.state, 6, stored.history)  # in place


def test_a_cancel_request_is_on_the_timeline_and_the_worker_then_stops_the_job(staff):
    job = queued_ping(staff)
    claimed = lifecycle.claim(str(job.id), redelivered=False, worker="w1")
    assert claimed is not None

    assert lifecycle.cancel(Job.objects.get(pk=job.pk))  # from the page, on a fresh read
    assert lifecycle.record_progress(claimed) is Written.CANCELLED  # the worker's next chunk
    assert lifecycle.stop(claimed)

    stored = Job.objects.get(pk=job.pk)
    assert stored.state == State.CANCELLED
    assert [entry["event"] for entry in stored.history] == ["started", "cancel requested", "cancelled"]


def test_a_progress_write_of_an_attempt_that_was_taken_over_is_lost(staff):
    job = queued_ping(staff)
    stale = lifecycle.claim(str(job.id), redelivered=False, worker="w1")
    assert lifecycle.claim(str(job.id), redelivered=True, worker="w2") is not None

    assert lifecycle.record_progress(stale) is Written.LOST
    assert Job.objects.get(pk=job.pk).attempts == 2
