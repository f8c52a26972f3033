"""Job latency on an idle worker, through the real path (API service -> RabbitMQ -> worker
-> Redis channel layer -> daphne -> WebSocket client).

Usage: DATABASE_URL=... CELERY_BROKER_URL=... REDIS_URL=... python bench/job_latency_bench.py [--jobs 30]
Measures: submit -> running (Job timestamps), submit -> first "running" fragment on the
socket, and one progress push -> fragment received (published from this process, the
same call a worker makes).
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

from common import ROOT, bench_users, record, session_cookie, setup_django, start_daphne, start_worker, stop

ATTRS = re.compile(r'data-job-id="([^"]+)" data-state="([^"]+)".*?data-seq="(\d+)"', re.S)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"median **{statistics.median(ms):.1f} ms**, p95 {percentile(ms, 0.95):.1f} ms, max {max(ms):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--pushes", type=int, default=200)
    args = parser.parse_args()
    setup_django()
    from websockets.sync.client import connect

    from jobs import lifecycle, services
    from jobs.models import Job, State

    user = bench_users("bench-latency", 1)[0]
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    daphne, port = start_daphne(out / "daphne.log")
    worker = start_worker(out / "latency-worker.log", name="latency")
    try:
        ws = connect(
            f"ws://127.0.0.1:{port}/ws/jobs/",
            origin=f"http://127.0.0.1:{port}",
            additional_headers={"Cookie": session_cookie(user)},
            proxy=None,
        )

        def wait_for(job_id: str, state: str) -> float:
            while True:
                match = ATTRS.search(ws.recv(timeout=30))
                if match and match.group(1) == job_id and match.group(2) == state:
                    return time.perf_counter()

        to_running, to_fragment = [], []
        for i in range(args.jobs):
            started = time.perf_counter()
            # A search that matches nothing: the job itself takes milliseconds.
            job, _ = services.submit_job(
                user=user, kind="export", params={"format": "csv", "filters": {"q": f"zqxj{i}"}}
            )
            to_fragment.append(wait_for(str(job.id), "running") - started)
            wait_for(str(job.id), "succeeded")
            job.refresh_from_db()
            to_running.append((job.started_at - job.created_at).total_seconds())

        probe = Job.objects.create(owner=user, kind="export", params={}, params_hash="bench", queue="bulk")
        push = []
        for _ in range(args.pushes):
            started = time.perf_counter()
            lifecycle.announce_queue(probe.queue)  # one re-render of the waiting job
            push.append(wait_for(str(probe.id), State.QUEUED) - started)
        Job.objects.filter(pk=probe.pk).delete()
        ws.close()
    finally:
        stop(worker)
        stop(daphne)
    record(
        "Job latency on an idle worker",
        f"python bench/job_latency_bench.py --jobs {args.jobs} --pushes {args.pushes}",
        [
            f"submit -> running (Job.started_at - created_at), {args.jobs} jobs: {summary(to_running)}",
            f"submit -> first 'running' fragment on a WebSocket via daphne: {summary(to_fragment)}",
            f"progress push -> fragment on the WebSocket client, {args.pushes} pushes: {summary(push)}",
        ],
    )


if __name__ == "__main__":
    main()
