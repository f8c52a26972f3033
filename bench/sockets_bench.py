"""WebSocket clients, each watching its own job to the end, on one daphne or several
behind nginx (deploy/nginx.conf, as compose runs it).

Usage: DATABASE_URL=... CELERY_BROKER_URL=... REDIS_URL=... python bench/sockets_bench.py
    [--clients 500] [--web 1] [--proxy]
Every client is a different user with its own socket; once all are connected, each user
gets one `ping` job (through the submit service, 2 worker processes run them) and the
client waits for that job's final fragment. Reports how many arrived, errors, the time
from the job's finished_at (set just before its final state is written and pushed) to the
fragment on the client, and each daphne's memory idle, with all sockets open, and at peak.
Without --proxy the clients are spread over the daphnes directly.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import threading
import time

import psutil
from common import (
    ROOT,
    RssSampler,
    bench_users,
    percentile,
    raise_open_files,
    record,
    session_cookie,
    setup_django,
    start_daphne,
    start_nginx,
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
) -> tuple[str, float]:
    """Connect, then return the id of the first job of this user that reaches a final state
    and the wall-clock time its fragment arrived."""
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
                return match.group(1), time.time()


async def run_clients(ports: list[int], cookies: list[str], submit: threading.Event, timeout: float) -> list:
    connected = Connected(len(cookies))
    limit = asyncio.Semaphore(50)
    tasks = [
        asyncio.create_task(watch(ports[i % len(ports)], cookie, connected, limit, timeout))
        for i, cookie in enumerate(cookies)
    ]
    await asyncio.wait_for(connected.all.wait(), 300)
    submit.set()  # every socket is open: now the jobs
    return await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--web", type=int, default=1, help="daphne processes")
    parser.add_argument("--proxy", action="store_true", help="clients connect through nginx")
    args = parser.parse_args()
    # Each socket is a descriptor here, in nginx (two) and in a daphne; children inherit this.
    open_files = raise_open_files(4 * args.clients + 1024)
    setup_django()
    from jobs import services
    from jobs.models import Job, State

    users = bench_users("bench-sockets", args.clients, staff=True)  # ping is a staff kind
    cookies = [session_cookie(user) for user in users]
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    webs = [start_daphne(out / f"sockets-daphne{i}.log") for i in range(args.web)]
    proxy = start_nginx([port for _, port in webs], out / "sockets-nginx") if args.proxy else None
    ports = [proxy[1]] if proxy else [port for _, port in webs]
    worker = start_worker(out / "sockets-worker.log", name="sockets", concurrency=2)
    processes = [psutil.Process(daphne.pid) for daphne, _ in webs]
    idle = [process.memory_info().rss for process in processes]
    submit = threading.Event()
    expected: dict[str, str] = {}
    connected_rss: list[int] = []

    def submitter() -> None:
        nonlocal connected_rss
        submit.wait()
        connected_rss = [process.memory_info().rss for process in processes]
        for user in users:
            job, _ = services.submit_job(user=user, kind="ping", params={})
            expected[str(user.pk)] = str(job.id)

    thread = threading.Thread(target=submitter)
    thread.start()
    load = __import__("os").getloadavg()
    samplers = [RssSampler(daphne.pid) for daphne, _ in webs]
    try:
        for sampler in samplers:
            sampler.__enter__()
        started = time.perf_counter()
        results = asyncio.run(run_clients(ports, cookies, submit, timeout=300))
        elapsed = time.perf_counter() - started
        thread.join()
    finally:
        for sampler in samplers:
            sampler.__exit__()
        stop(worker)
        if proxy:
            stop(proxy[0])
        for daphne, _ in webs:
            stop(daphne)
    errors = [r for r in results if isinstance(r, BaseException)]
    got = {str(user.pk): r for user, r in zip(users, results, strict=True) if isinstance(r, tuple)}
    right = {pk: arrived for pk, (job_id, arrived) in got.items() if expected.get(pk) == job_id}
    finished = dict(
        Job.objects.filter(owner__in=users, state=State.SUCCEEDED).values_list("owner_id", "finished_at")
    )
    delays = [
        (arrived - finished[int(pk)].timestamp()) * 1000
        for pk, arrived in right.items()
        if int(pk) in finished
    ]
    tracebacks = sum(
        (out / f"sockets-daphne{i}.log").read_text(errors="replace").count("Traceback")
        for i in range(args.web)
    )
    where = f"{args.web} daphne" + (" behind nginx" if proxy else "")
    record(
        f"{args.clients:,} WebSocket clients on {where}, each watching its own job",
        f"python bench/sockets_bench.py --clients {args.clients} --web {args.web}"
        + (" --proxy" if proxy else ""),
        [
            f"load average before the run {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1, 5, 15 min); "
            f"open-file limit {open_files:,}",
            f"clients that got their own job's final fragment: **{len(right):,} of {args.clients:,}**; "
            f"client errors: {len(errors)}"
            + (f" (first: {errors[0]!r})" if errors else "")
            + f"; tracebacks in daphne's logs: {tracebacks}",
            f"jobs succeeded in the database: {len(finished):,}; "
            f"connect -> last final fragment: {elapsed:.1f} s",
            f"job finished_at -> its final fragment on the client: "
            f"median **{statistics.median(delays):.0f} ms**, p95 {percentile(delays, 0.95):.0f} ms, "
            f"max {max(delays):.0f} ms"
            if delays
            else "no fragment arrived",
            *(
                f"daphne {i + 1} RSS: {idle[i] / MB:.0f} MB idle, "
                f"{(connected_rss[i] if connected_rss else 0) / MB:.0f} MB with all sockets open, "
                f"peak **{samplers[i].peak / MB:.0f} MB**"
                for i in range(args.web)
            ),
        ],
    )


if __name__ == "__main__":
    main()
