"""Search latency while heavy jobs run (issue 22): the fixed 20-query set of
search_bench.py through a real daphne, first on an idle machine, then while an xlsx export
of --xlsx-rows awards, a csv export of every award and a report with every analysis run
on one worker (3 processes), in the same run.

Usage: DATABASE_URL=... CELERY_BROKER_URL=... REDIS_URL=... python bench/search_load_bench.py
    [--passes 3] [--xlsx-rows 1000000] [--nice N] [--worker-db-options "..."] [--db-nice N]
    [--worker-cpus F]
Needs a seeded database (`seed_demo --awards 2000000`). The worker runs with the app's
isolation (jobs/worker_process.py: WORKER_NICE, WORKER_DB_OPTIONS, WORKER_DB_NICE); --nice 0
shows what the same load does without it. --worker-cpus F makes a cgroup with a quota of F
cores and starts the worker with WORKER_CPU_CGROUP naming it (root only). Every search
request is labelled with the jobs that were running when it started; the loaded figures
count requests made while all three ran and while at least one did. CPU seconds per
process group (daphne, worker and its children, PostgreSQL backends of the worker and of
daphne) come from psutil.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import threading
import time
from urllib.parse import urlencode

from common import (
    ROOT,
    WEB_APPLICATION_NAME,
    CpuMeter,
    bench_users,
    newest_awards_filters,
    percentile,
    record,
    session_cookie,
    setup_django,
    start_daphne,
    start_worker,
    stop,
    worker_cpu_quota,
)
from search_bench import filled_queries


def summary(values: list[float]) -> str:
    if not values:
        return "no requests"
    return (
        f"median {statistics.median(values):.0f} ms, p95 **{percentile(values, 0.95):.0f} ms**, "
        f"max {max(values):.0f} ms ({len(values)} requests)"
    )


class Searcher:
    """Requests the 20 queries in turn over one keep-alive connection to daphne."""

    def __init__(self, port: int, cookie: str, queries: list[dict[str, str]]) -> None:
        self.port, self.cookie, self.queries = port, cookie, queries
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, params: dict[str, str]) -> float:
        started = time.perf_counter()
        self.http.request("GET", "/?" + urlencode(params), headers={"Cookie": self.cookie})
        response = self.http.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"search answered {response.status} for {params}")
        return (time.perf_counter() - started) * 1000

    def one_pass(self, running=None) -> list[tuple[float, frozenset]]:  # type: ignore[no-untyped-def]
        out = []
        for params in self.queries:
            state = running() if running else frozenset()
            out.append((self.get(params), state))
        return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passes", type=int, default=3, help="idle passes over the 20 queries")
    parser.add_argument("--xlsx-rows", type=int, default=1_000_000)
    parser.add_argument("--nice", type=int, default=None, help="WORKER_NICE for this run's worker")
    parser.add_argument("--worker-db-options", default=None, help="WORKER_DB_OPTIONS for this run's worker")
    parser.add_argument("--db-nice", type=int, default=None, help="WORKER_DB_NICE for this run's worker")
    parser.add_argument(
        "--worker-cpus", type=float, default=None, help="a WORKER_CPU_CGROUP with a quota of F cores"
    )
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    if args.nice is not None:
        os.environ["WORKER_NICE"] = str(args.nice)
    if args.worker_db_options is not None:
        os.environ["WORKER_DB_OPTIONS"] = args.worker_db_options
    if args.db_nice is not None:
        os.environ["WORKER_DB_NICE"] = str(args.db_nice)
    with worker_cpu_quota(args.worker_cpus):
        run(args)


def run(args: argparse.Namespace) -> None:
    setup_django()
    from django.conf import settings

    from explorer.models import Award
    from jobs import services
    from jobs.models import FINAL_STATES, Job, State
    from jobs.worker_process import APPLICATION_NAME

    total = Award.objects.count()
    queries = [params for _, params in filled_queries()]
    searcher_user, *job_users = bench_users("bench-load", 4)
    xlsx_filters = newest_awards_filters(args.xlsx_rows)
    xlsx_rows = (
        Award.objects.filter(award_date__gte=xlsx_filters["date_from"]).count() if xlsx_filters else total
    )

    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    load_at_start = os.getloadavg()
    daphne, port = start_daphne(out / "load-daphne.log", PGAPPNAME=WEB_APPLICATION_NAME)
    worker = start_worker(out / "load-worker.log", name="load", concurrency=3)
    searcher = Searcher(port, session_cookie(searcher_user), queries)
    try:
        searcher.one_pass()  # warm-up: caches, daphne's pool, PostgreSQL's buffers
        idle = [ms for _ in range(args.passes) for ms, _ in searcher.one_pass()]

        jobs = {
            "xlsx": services.submit_job(
                user=job_users[0], kind="export", params={"format": "xlsx", "filters": xlsx_filters}
            )[0],
            "csv": services.submit_job(
                user=job_users[1], kind="export", params={"format": "csv", "filters": {}}
            )[0],
            "report": services.submit_job(user=job_users[2], kind="report", params={"filters": {}})[0],
        }
        running: frozenset[str] = frozenset()
        done = threading.Event()

        def watch() -> None:
            nonlocal running
            while not done.is_set():
                states = dict(
                    Job.objects.filter(pk__in=[j.pk for j in jobs.values()]).values_list("pk", "state")
                )
                running = frozenset(name for name, job in jobs.items() if states[job.pk] == State.RUNNING)
                if all(state in FINAL_STATES for state in states.values()):
                    done.set()
                time.sleep(0.1)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        meter = CpuMeter(
            {"daphne": daphne.pid, "worker (pool and reader processes)": worker.pid},
            {"PostgreSQL for the worker": APPLICATION_NAME, "PostgreSQL for daphne": WEB_APPLICATION_NAME},
        )
        loaded: list[tuple[float, frozenset[str]]] = []
        started = time.perf_counter()
        with meter:
            while not done.is_set():
                loaded += searcher.one_pass(running=lambda: running)
        elapsed = time.perf_counter() - started
        watcher.join()
    finally:
        stop(worker)
        stop(daphne)
    outcomes = {name: Job.objects.get(pk=job.pk) for name, job in jobs.items()}
    run_seconds = {
        name: (job.finished_at - job.started_at).total_seconds()
        if job.started_at and job.finished_at
        else None
        for name, job in outcomes.items()
    }
    all_three = [ms for ms, state in loaded if len(state) == 3]
    any_job = [ms for ms, state in loaded if state]
    idle_p95 = percentile(idle, 0.95)
    ratio = percentile(any_job, 0.95) / idle_p95 if any_job else float("nan")
    ratio_all = percentile(all_three, 0.95) / idle_p95 if all_three else float("nan")
    lines = [
        f"{total:,} awards; worker: 3 processes, WORKER_NICE={settings.WORKER_NICE}, "
        f"WORKER_DB_OPTIONS=`{settings.WORKER_DB_OPTIONS or '(none)'}`, "
        f"WORKER_DB_NICE={settings.WORKER_DB_NICE}, "
        + (
            f"WORKER_CPU_CGROUP, a quota of {args.worker_cpus:g} cores"
            if args.worker_cpus
            else "no CPU quota"
        )
        + "; "
        "load average before the run "
        f"{load_at_start[0]:.2f} / {load_at_start[1]:.2f} / {load_at_start[2]:.2f} (1, 5, 15 min)",
        f"idle, {args.passes} passes over the 20 queries through daphne: {summary(idle)}",
        f"while all three jobs ran: {summary(all_three)}; p95 / idle p95 = **{ratio_all:.2f}**",
        f"while at least one job ran: {summary(any_job)}; p95 / idle p95 = **{ratio:.2f}**",
        "jobs: "
        + ", ".join(
            f"{name} {job.state} in {run_seconds[name]:.1f} s"
            if run_seconds[name] is not None
            else f"{name} {job.state}"
            for name, job in outcomes.items()
        )
        + f" (xlsx: {xlsx_rows:,} rows, filters {xlsx_filters or 'none'}); loaded phase {elapsed:.0f} s",
        f"CPU seconds during the loaded phase ({elapsed:.0f} s, 2 cores: {2 * elapsed:.0f} s available): "
        f"{meter.text()}",
    ]
    failed = [name for name, job in outcomes.items() if job.state != State.SUCCEEDED]
    if failed:
        lines.append(f"NOT SUCCEEDED: {failed}: " + "; ".join(outcomes[name].error or "" for name in failed))
    if args.no_record:
        print("\n".join(lines))
        return
    command = f"python bench/search_load_bench.py --passes {args.passes} --xlsx-rows {args.xlsx_rows}"
    if args.nice is not None:
        command += f" --nice {args.nice}"
    if args.worker_db_options is not None:
        command += f' --worker-db-options "{args.worker_db_options}"'
    if args.db_nice is not None:
        command += f" --db-nice {args.db_nice}"
    if args.worker_cpus is not None:
        command += f" --worker-cpus {args.worker_cpus:g}"
    record(f"Search while an xlsx export, a csv export and a report run ({total:,} awards)", command, lines)


if __name__ == "__main__":
    main()
