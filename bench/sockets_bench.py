"""500 WebSocket clients on one daphne, each watching its own job to the end.

Usage: DATABASE_URL=... CELERY_BROKER_URL=... REDIS_URL=... python bench/sockets_bench.py [--clients 500]
Every client is a different user with its own socket; once all are connected, each user
gets one `ping` job (through the submit service, 2 worker processes run them) and the
client waits for that job's final fragment. Reports how many arrived, errors, and
daphne's memory idle, with all sockets open, and at peak.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import threading
import time

import psutil
from common import (
    ROOT,
    RssSampler,
    bench_users,
    record,
    session_cookie,
    setup_django,
    start_daphne,
    start_worker,
    stop,
)

FINAL = re.compile(r'data-job-id="([^"]+)" data-state="(succeeded|failed)"')
MB = 2**20


class Connected:
    """Counts open sockets; `all` is set once every client is connected."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.all = asyncio.Event()

    def add(self) -> None:
        self.count += 1
        if self.count >= self.target:
            self.all.set()


async def watch(
    port: int, cookie: str, connected: Connected, limit: asyncio.Semaphore, timeout: float
) -> str:
    """Connect, then return the id of the first job of this user that reaches a final state."""
    from websockets.asyncio.client import connect

    async with limit:  # open in waves of 50, as pages would
        ws = await connect(
            f"ws://127.0.0.1:{port}/ws/jobs/",
            origin=f"http://127.0.0.1:{port}",
            additional_headers={"Cookie": cookie},
            proxy=None,
            open_timeout=60,
        )
    async with ws:
        connected.add()
        while True:
            match = FINAL.search(await asyncio.wait_for(ws.recv(), timeout))
            if match:
                return match.group(1)


async def run_clients(port: int, cookies: list[str], submit: threading.Event, timeout: float) -> list:
    connected = Connected(len(cookies))
    limit = asyncio.Semaphore(50)
    tasks = [asyncio.create_task(watch(port, cookie, connected, limit, timeout)) for cookie in cookies]
    await asyncio.wait_for(connected.all.wait(), 120)
    submit.set()  # every socket is open: now the jobs
    return await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=500)
    args = parser.parse_args()
    setup_django()
    from jobs import services
    from jobs.models import Job, State

    users = bench_users("bench-sockets", args.clients, staff=True)  # ping is a staff kind
    cookies = [session_cookie(user) for user in users]
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    daphne, port = start_daphne(out / "sockets-daphne.log")
    worker = start_worker(out / "sockets-worker.log", name="sockets", concurrency=2)
    process = psutil.Process(daphne.pid)
    idle = process.memory_info().rss
    submit = threading.Event()
    expected: dict[str, str] = {}
    connected_rss = 0

    def submitter() -> None:
        nonlocal connected_rss
        submit.wait()
        connected_rss = process.memory_info().rss
        for user in users:
            job, _ = services.submit_job(user=user, kind="ping", params={})
            expected[str(user.pk)] = str(job.id)

    thread = threading.Thread(target=submitter)
    thread.start()
    try:
        with RssSampler(daphne.pid) as sampler:
            started = time.perf_counter()
            results = asyncio.run(run_clients(port, cookies, submit, timeout=300))
            elapsed = time.perf_counter() - started
        thread.join()
    finally:
        stop(worker)
        stop(daphne)
    errors = [r for r in results if isinstance(r, BaseException)]
    got = {str(user.pk): r for user, r in zip(users, results, strict=True) if isinstance(r, str)}
    right = sum(1 for pk, job_id in got.items() if expected.get(pk) == job_id)
    succeeded = Job.objects.filter(owner__in=users, state=State.SUCCEEDED).count()
    tracebacks = (out / "sockets-daphne.log").read_text(errors="replace").count("Traceback")
    record(
        f"{args.clients} WebSocket clients on one daphne, each watching its own job",
        f"python bench/sockets_bench.py --clients {args.clients}",
        [
            f"clients that got their own job's final fragment: **{right} of {args.clients}**; "
            f"client errors: {len(errors)}"
            + (f" (first: {errors[0]!r})" if errors else "")
            + f"; tracebacks in daphne's log: {tracebacks}",
            f"jobs succeeded in the database: {succeeded}; connect -> last final fragment: {elapsed:.1f} s",
            f"daphne RSS: {idle / MB:.0f} MB idle, {connected_rss / MB:.0f} MB with all sockets open, "
            f"peak **{sampler.peak / MB:.0f} MB**",
        ],
    )


if __name__ == "__main__":
    main()
