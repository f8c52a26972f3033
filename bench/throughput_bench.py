"""Small-job throughput through the whole path: HTTP API on daphne -> Job row -> RabbitMQ
-> 2 worker processes -> Redis channel layer -> daphne -> each user's WebSocket.

Usage: DATABASE_URL=... CELERY_BROKER_URL=... REDIS_URL=... python bench/throughput_bench.py
Each of --users users keeps one `ping` job (a kind that does nothing) in flight: it posts
the next one as soon as its socket shows the last one succeeded. The rate counts jobs
whose final fragment arrived on a socket.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import threading
import time

from common import (
    ROOT,
    bench_users,
    record,
    session_cookie,
    setup_django,
    start_daphne,
    start_nginx,
    start_worker,
    stop,
)

FINAL = re.compile(r'data-job-id="([^"]+)" data-state="(succeeded|failed)"')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=25, help="jobs per user")
    parser.add_argument("--web", type=int, default=1, help="daphne processes (users split across them)")
    parser.add_argument(
        "--proxy", action="store_true", help="every user through nginx in front of the daphnes"
    )
    args = parser.parse_args()
    setup_django()
    from websockets.sync.client import connect

    from jobs.models import ApiToken, Job, State

    users = bench_users("bench-throughput", args.users, staff=True)  # ping is a staff kind
    tokens = [ApiToken.issue(user) for user in users]
    cookies = [session_cookie(user) for user in users]
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    webs = [start_daphne(out / f"throughput-daphne{i}.log") for i in range(args.web)]
    proxy = start_nginx([port for _, port in webs], out / "throughput-nginx") if args.proxy else None
    ports = [proxy[1]] if proxy else [port for _, port in webs]
    worker = start_worker(out / "throughput-worker.log", name="throughput", concurrency=2)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def user_loop(token: str, cookie: str, port: int) -> None:
        ws = connect(
            f"ws://127.0.0.1:{port}/ws/jobs/",
            origin=f"http://127.0.0.1:{port}",
            additional_headers={"Cookie": cookie},
            proxy=None,
        )
        api = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for _ in range(args.jobs):
                started = time.perf_counter()
                api.request(
                    "POST",
                    "/api/jobs/",
                    body=json.dumps({"kind": "ping", "params": {}}),
                    headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
                )
                response = api.getresponse()
                body = json.loads(response.read())
                if response.status != 201:
                    raise RuntimeError(f"submit answered {response.status}: {body}")
                while True:
                    match = FINAL.search(ws.recv(timeout=60))
                    if match and match.group(1) == body["id"]:
                        break
                with lock:
                    latencies.append(time.perf_counter() - started)
        except Exception as exc:  # reported below; one failing user must not hide the others
            with lock:
                errors.append(repr(exc))
        finally:
            ws.close()
            api.close()

    threads = [
        threading.Thread(target=user_loop, args=(token, cookie, ports[i % len(ports)]))
        for i, (token, cookie) in enumerate(zip(tokens, cookies, strict=True))
    ]
    sessions_before = _sessions()
    load = os.getloadavg()
    try:
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        stop(worker)
        if proxy:
            stop(proxy[0])
        for daphne, _ in webs:
            stop(daphne)
    sessions = _sessions() - sessions_before
    done = Job.objects.filter(owner__in=users, state=State.SUCCEEDED).count()
    record(
        f"Small-job throughput through the whole path (2 worker processes, {args.web} daphne"
        + (" behind nginx)" if proxy else ")"),
        f"python bench/throughput_bench.py --users {args.users} --jobs {args.jobs} --web {args.web}"
        + (" --proxy" if proxy else ""),
        [
            f"load average before the run {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1, 5, 15 min)",
            f"{len(latencies):,} ping jobs seen succeeded on the users' sockets in {elapsed:.1f} s: "
            f"**{len(latencies) / elapsed:,.0f} jobs/s** ({args.users} users, one job in flight each)",
            f"per job, POST -> final fragment: median {statistics.median(latencies) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms"
            if latencies
            else "no job finished",
            f"succeeded in the database: {done:,} of {args.users * args.jobs:,}; errors: {len(errors)}"
            + (f" (first: {errors[0]})" if errors else ""),
            f"PostgreSQL sessions opened during the run: {sessions:,} "
            f"({sessions / max(done, 1):.2f} a job; each is a new server process)",
        ],
    )


def _sessions() -> int:
    """Connections PostgreSQL has accepted on this database so far (pg_stat_database)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


if __name__ == "__main__":
    main()
