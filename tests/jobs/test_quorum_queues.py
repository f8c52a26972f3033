"""CELERY_QUORUM_QUEUES=1 (as compose sets it): the job queues are quorum queues on the
real broker, and jobs still run through them with late acks and a prefetch of one."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.models import Job, State
from tests.services import ROOT, broker_url_for, rabbitmqctl, service_env, wait_for

pytestmark = pytest.mark.services

SUBMIT = """
import django; django.setup()
from django.contrib.auth import get_user_model
from jobs.services import submit_job
job, _ = submit_job(user=get_user_model().objects.get(username="alice"), kind="export",
                    params={"format": "csv", "filters": {}})
print(job.id)
"""


def rabbit_json(*args: str) -> list[dict[str, object]]:
    return json.loads(rabbitmqctl(*args, "--formatter", "json"))


def test_quorum_queues_are_declared_and_carry_a_job(tmp_path: Path, transactional_db, alice, fresh_vhost):
    env = service_env(CELERY_BROKER_URL=broker_url_for(fresh_vhost), CELERY_QUORUM_QUEUES="1")
    name = f"quorum@{socket.gethostname()}-{os.getpid()}"
    log = tmp_path / "worker.log"
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--hostname", name]
    command += ["--queues", "interactive,bulk", "--concurrency", "1", "--without-mingle", "--without-gossip"]
    worker = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        # Not a ping: Celery publishes control messages to this process's own broker URL
        # (CELERY_BROKER_URL in the environment wins over any app setting).
        wait_for(
            lambda: worker.poll() is None and f"{name} ready." in log.read_text(),
            timeout=60,
            what=f"the worker to start (log: {log})",
        )

        queues = {
            queue["name"]: queue
            for queue in rabbit_json("list_queues", "-p", fresh_vhost, "name", "type", "durable", "arguments")
        }
        for queue in ("interactive", "bulk"):
            assert queues[queue]["type"] == "quorum"
            assert queues[queue]["durable"] is True
        # Quorum queues have no global QoS: Celery switches to a per-consumer prefetch,
        # which must still be one message per process, acknowledged manually (late).
        consumers = rabbit_json(
            "list_consumers", "-p", fresh_vhost, "queue_name", "ack_required", "prefetch_count"
        )
        jobs_consumers = [c for c in consumers if c["queue_name"] in ("interactive", "bulk")]
        assert {c["queue_name"] for c in jobs_consumers} == {"interactive", "bulk"}
        assert all(c["ack_required"] is True and c["prefetch_count"] == 1 for c in jobs_consumers), consumers

        submitted = subprocess.run(
            [sys.executable, "-c", SUBMIT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert submitted.returncode == 0, submitted.stderr
        job_id = submitted.stdout.strip()

        job = wait_for(
            lambda: Job.objects.filter(pk=job_id, state__in=[State.SUCCEEDED, State.FAILED]).first(),
            timeout=60,
            what="the job to finish",
        )
        assert job.state == State.SUCCEEDED, job.error
        assert job.queue == "bulk"

        # The job's message was acknowledged: the queue's counts (which RabbitMQ updates a
        # moment after the ack) come down to zero.
        def bulk_empty() -> bool:
            counts = rabbit_json(
                "list_queues", "-p", fresh_vhost, "name", "messages", "messages_unacknowledged"
            )
            return all(
                q["messages"] == 0 and q["messages_unacknowledged"] == 0
                for q in counts
                if q["name"] == "bulk"
            )

        wait_for(bulk_empty, timeout=30, what="the bulk queue to be empty")
    finally:
        worker.terminate()
        worker.wait(30)
