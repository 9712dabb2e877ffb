"""Jobs run under the supervisor; a single-instance job runs in one process at a time
and passes to another when its holder dies."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from aggregator.runtime.jobs import Job, JobRunner
from aggregator.runtime.supervisor import Supervisor
from storage.models import Lease


def counting_job(counter: dict[str, int], who: str, **kw) -> Job:
    async def round_() -> None:
        counter[who] = counter.get(who, 0) + 1

    return Job("digest", round_, interval=0.05, single_instance=True, **kw)


async def test_single_instance_job_runs_in_one_process_and_fails_over(sessions):
    counter: dict[str, int] = {}
    a = JobRunner(counting_job(counter, "a", lease_seconds=0.6), sessions, holder="proc-a")
    b = JobRunner(counting_job(counter, "b", lease_seconds=0.6), sessions, holder="proc-b")
    task_a = asyncio.create_task(a.run())
    await asyncio.sleep(0.2)  # a takes the lease first
    task_b = asyncio.create_task(b.run())
    await asyncio.sleep(0.5)
    assert counter.get("a", 0) >= 3 and "b" not in counter
    assert a.health()["holding"] and not b.health()["holding"]

    task_a.cancel()  # a dies without releasing its lease (kill -9)
    await asyncio.gather(task_a, return_exceptions=True)
    before = counter.get("b", 0)
    await asyncio.sleep(1.2)  # the lease expires, b takes over
    assert counter.get("b", 0) > before
    async with sessions() as s:
        lease = (await s.execute(select(Lease))).scalar_one()
    assert lease.holder == "proc-b"
    await b.stop()
    await asyncio.wait_for(task_b, 2)


async def test_a_crashing_job_is_restarted_and_its_state_shown(sessions):
    calls = 0

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("upstream away")

    runner = JobRunner(Job("flaky", flaky, interval=0.05), sessions)
    sup = Supervisor({}, {"flaky": runner}, base_delay=0.01, max_delay=0.05)
    sup.start()
    await asyncio.sleep(0.4)
    snap = sup.snapshot()
    await sup.stop()
    assert calls >= 3
    job = snap["jobs"]["flaky"]
    assert job["restarts"] == 1 and "upstream away" in job["last_error"]
    assert job["rounds"] >= 1
