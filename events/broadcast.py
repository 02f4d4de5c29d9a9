"""The broadcast engine: persisted jobs that reach many conversations once, at Teams' rate limit.

One job = one message to many recipients (or an update/recall of every card a job delivered). Each
recipient gets a delivery record: pending (listed, no record yet) -> in_flight -> sent | failed | blocked.
Sending, throttling (global rate, per-conversation windows, Retry-After) and HTTP retries are the
Messenger's (bot/proactive.py); this engine keeps up to `concurrency` sends in flight so that the
global rate is actually reached, and makes the job survive crashes and several instances:

- A lease per job (storage/lease.py) decides which instance works it; renewed on every tick. An instance
  that loses it stops claiming; another takes over once it has expired.
- Before a send the record is claimed with a conditional write (create, or replace by ETag), so no two
  instances ever hold the same recipient. The outcome is written over the claim, again by ETag.
- Nobody is lost: a recipient without a record is still pending, an in_flight record is retried once
  `grace_seconds` have passed since its claim (at once if it was claimed by an earlier process of this
  same instance id, which is therefore dead), and a job is marked done only when every recipient has
  an outcome.
- Duplicate bound: only an in_flight record can be sent again, so a crash (or a takeover from a stalled
  instance) duplicates at most the records that instance held in_flight at that moment. A record is
  claimed only after one of the `concurrency` slots is free and settled before the slot is given back,
  so that is at most `concurrency` per crash (20 by default), and never more than `max_attempts` copies
  for one recipient. Two more cases add to it, each logged: a send whose outcome could not be written
  (store error; `broadcast_delivery_error`), and - below this engine - a Messenger retry after a
  timeout on a request Teams had in fact processed.
- `instance_id` must be unique among running processes and stable across restarts of one process slot
  (e.g. host name plus port): two live processes with one id would take each other's claims for dead.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Awaitable, Callable, Sequence

from dialogs.context import Message
from dialogs.ports import Delivery, Messenger
from events.jobs import (
    FAILURES_SHOWN, TERMINAL, Entry, JobStore, Progress, Recipient, Source, entries_for, message_body,
)
from events.run import JobRun
from storage.base import Conflict, Container, check_key
from storage.lease import Leases

log = logging.getLogger(__name__)

__all__ = ["BroadcastEngine", "Progress", "Recipient", "Source"]


class BroadcastEngine:
    """Works persisted broadcast jobs: one delivery record per (job, recipient), crash- and multi-instance-safe."""

    def __init__(self, jobs: Container, deliveries: Container, leases: Leases, messenger: Messenger, *,
                 instance_id: str, concurrency: int = 20, max_attempts: int = 5, lease_seconds: float = 30,
                 clock: Callable[[], float] = time.time,
                 on_progress: Callable[[Progress], Awaitable[None]] | None = None,
                 progress_every: float = 3.0, grace_seconds: float = 120.0, poll_seconds: float = 1.0,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        if not instance_id or concurrency < 1 or max_attempts < 1 or lease_seconds <= 0 or progress_every <= 0:
            raise ValueError("instance_id, concurrency >= 1, max_attempts >= 1 and positive intervals are required")
        self.store = JobStore(jobs, deliveries)
        self._leases = leases
        self._messenger = messenger
        self.instance_id = instance_id
        self.run_id = uuid.uuid4().hex[:12]     # tells this process's claims from a dead predecessor's
        self.max_attempts = max_attempts
        self.lease_seconds = lease_seconds
        self.grace_seconds = grace_seconds
        self.clock = clock
        self.tick_every = min(progress_every, lease_seconds / 3)
        self._on_progress = on_progress
        self._poll_seconds = poll_seconds
        self._sleep = sleep
        self._slots = asyncio.Semaphore(concurrency)
        self._sources: dict[str, Source] = {}
        self._working: set[str] = set()
        self._idle_until: dict[str, float] = {}
        self._workers: set[asyncio.Task] = set()
        self._loop_task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self.stopping = False

    # -- submitting -------------------------------------------------------------------------------

    async def submit(self, job_id: str, message: Message, recipients: Sequence[Recipient], *,
                     kind: str = "announcement", not_before: float | None = None,
                     meta: dict | None = None) -> Progress:
        """Persist a send job; idempotent by job_id (a second submit creates no second delivery)."""
        _check_job_id(job_id)
        if not isinstance(message, Message):
            raise ValueError("message must be a Message")
        if await self.store.read(job_id) is not None:
            return await self.progress(job_id)
        entries = entries_for(recipients)
        pages = await self.store.write_pages(job_id, entries)
        body = self._new_job(job_id, kind=kind, op="send", message=message, not_before=not_before, meta=meta,
                             pages=pages, total=len(entries))
        return await self._create(body, pages)

    async def submit_update(self, job_id: str, of_job: str, message: Message) -> Progress:
        """Update every card delivered by `of_job` in place (PUT); recipients still pending get `message` directly."""
        _check_job_id(job_id)
        if await self.store.read(job_id) is not None:
            return await self.progress(job_id)

        def newer(b: dict) -> dict:
            return {**b, "message": message_body(message), "message_version": b.get("message_version", 1) + 1}

        of = await self.store.mutate(of_job, newer)
        if of is None:
            raise KeyError(of_job)
        await self._cancel_siblings(of_job)
        body = self._new_job(job_id, kind=f"{of.get('kind', '')}_update", op="update", message=message,
                             of_job=of_job, of_version=of["message_version"])
        return await self._create(body, [])

    async def submit_delete(self, job_id: str, of_job: str) -> Progress:
        """Recall (delete) every card delivered by `of_job`; recipients still pending get nothing."""
        _check_job_id(job_id)
        if await self.store.read(job_id) is not None:
            return await self.progress(job_id)
        of = await self.store.mutate(of_job, self._cancelled)
        if of is None:
            raise KeyError(of_job)
        await self._cancel_siblings(of_job)
        return await self._create(self._new_job(job_id, kind=f"{of.get('kind', '')}_delete", op="delete",
                                                of_job=of_job), [])

    async def submit_deferred(self, job_id: str, *, source: str, not_before: float, kind: str = "reminder",
                              group: str = "", meta: dict | None = None) -> Progress:
        """A job whose message and recipients `source` gives when it is due (see register_source).

        Submitting a cancelled deferred job again reopens it: its delivery records still keep everybody
        who already received it from receiving it twice.
        """
        _check_job_id(job_id)
        existing = await self.store.read(job_id)
        if existing is not None:
            if existing.body.get("source") == source and existing.body["state"] == "cancelled":
                await self.store.mutate(job_id, lambda b: {**b, "state": "open", "not_before": not_before}
                                        if b["state"] == "cancelled" else None)
                self._wake.set()
            return await self.progress(job_id)
        return await self._create(self._new_job(job_id, kind=kind, op="send", not_before=not_before, meta=meta,
                                                source=source, group=group), [])

    def register_source(self, name: str, source: Source) -> None:
        """Register how deferred jobs of `source=name` are resolved (before start(), after every restart)."""
        self._sources[name] = source

    async def cancel(self, job_id: str) -> Progress:
        """Stop a job: pending recipients are not sent (in-flight ones still finish)."""
        if await self.store.mutate(job_id, self._cancelled) is None:
            raise KeyError(job_id)
        return await self.progress(job_id)

    async def cancel_group(self, group: str) -> int:
        """Cancel every open job of `group` (e.g. the reminders of one event); returns how many."""
        jobs = await self.store.jobs_where(group=group, state="open")
        for body in jobs:
            await self.store.mutate(body["job_id"], self._cancelled)
        return len(jobs)

    # -- reading ----------------------------------------------------------------------------------

    async def progress(self, job_id: str) -> Progress:
        """Current counts of a job (KeyError if unknown)."""
        doc = await self.store.read(job_id)
        if doc is None:
            raise KeyError(job_id)
        body = doc.body
        counts = body.get("counts") if body["state"] == "done" else None
        if counts is None:
            counts = {status: await self.store.count(job_id, status) for status in TERMINAL}
        total = body.get("total") or 0
        finished = sum(counts.values())
        eta = None
        started = body.get("started_at")
        if body["state"] != "open":
            eta = 0.0
        elif started and finished:
            eta = (total - finished) / (finished / max(self.clock() - started, 1e-6))
        return Progress(job_id, total, counts["sent"], counts["failed"], counts["blocked"], total - finished,
                        body["state"] != "open", eta, tuple(await self.failures(job_id, FAILURES_SHOWN)),
                        body.get("kind", ""), body["state"] == "cancelled")

    async def failures(self, job_id: str, limit: int | None = None) -> list[tuple[str, str]]:
        """(label or conversation id, reason) of every failed or blocked delivery."""
        found: list[tuple[str, str]] = []
        for status in ("failed", "blocked"):
            for doc in await self.store.records(job_id, status, limit):
                found.append((doc.body.get("label") or doc.body["conversation_id"], doc.body.get("error", "")))
        return found[:limit] if limit else found

    async def delivered(self, job_id: str) -> dict[str, str]:
        """conversation_id -> activity id of every successful delivery of the job."""
        return {d.body["conversation_id"]: d.body.get("activity_id", "") for d in await self.store.records(job_id, "sent")}

    # -- working ----------------------------------------------------------------------------------

    async def run_pending(self) -> int:
        """One pass: lease and work every due job; returns the number of sends done."""
        ids = [b["job_id"] for b in await self.store.open_jobs(self.clock()) if b["job_id"] not in self._working]
        self._working.update(ids)
        return sum(await asyncio.gather(*(self._work(job_id) for job_id in ids)))

    async def start(self) -> None:
        """Start the background loop."""
        if self._loop_task is None:
            self.stopping = False
            self._loop_task = asyncio.create_task(self._loop())

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop the background loop; in-flight sends finish first (up to `timeout`)."""
        self.stopping = True
        self._wake.set()
        if self._loop_task is not None:
            await self._loop_task
            self._loop_task = None
        if self._workers:
            _, late = await asyncio.wait(set(self._workers), timeout=timeout)
            for task in late:  # their records stay in_flight; this instance id reclaims them at its next start
                task.cancel()

    async def _loop(self) -> None:
        while not self.stopping:
            try:
                now = self.clock()
                for body in await self.store.open_jobs(now):
                    job_id = body["job_id"]
                    if job_id in self._working or self._idle_until.get(job_id, 0) > now:
                        continue
                    self._working.add(job_id)
                    task = asyncio.create_task(self._work(job_id, background=True))
                    self._workers.add(task)
                    task.add_done_callback(self._workers.discard)
            except Exception:  # the store may be briefly unavailable: try again at the next poll
                log.warning("broadcast poll failed", exc_info=True, extra={"event": "broadcast_poll_failed"})
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
            except asyncio.TimeoutError:
                pass

    async def _work(self, job_id: str, background: bool = False) -> int:
        """Lease the job and work it; the caller has put `job_id` into `_working`."""
        lease = f"broadcast.{job_id}"
        try:
            if not await self._leases.acquire(lease, self.instance_id, self.lease_seconds, now=self.clock()):
                return 0
            run = JobRun(self, job_id, lease)
            try:
                sends = await run.work()
            except asyncio.CancelledError:
                raise  # treated like a crash: the lease runs out on its own
            except Exception:
                log.exception("broadcast job failed", extra={"event": "broadcast_job_failed", "job_id": job_id})
                sends = run.sends
            await self._leases.release(lease, self.instance_id)
            if background and sends == 0:
                # Nothing could be done (waiting for another job or a grace period): poll it less often.
                self._idle_until[job_id] = self.clock() + 5 * self._poll_seconds
            else:
                self._idle_until.pop(job_id, None)
            return sends
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("broadcast lease failed", exc_info=True, extra={"event": "broadcast_lease_failed",
                                                                        "job_id": job_id})
            return 0
        finally:
            self._working.discard(job_id)

    # -- used by JobRun ---------------------------------------------------------------------------

    @property
    def slots(self) -> asyncio.Semaphore:
        return self._slots

    @property
    def leases(self) -> Leases:
        return self._leases

    def source(self, name: str) -> Source | None:
        return self._sources.get(name)

    async def call(self, op: str, entry: Entry, message: Message | None) -> Delivery:
        """The Messenger call of one delivery."""
        if op == "update" and message is not None:
            return await self._messenger.update(entry.conversation_id, entry.target, message)
        if op == "delete":
            return await self._messenger.delete(entry.conversation_id, entry.target)
        if message is None:
            raise ValueError("a send job needs a message")
        return await self._messenger.send(entry.conversation_id, message)

    async def report(self, progress: Progress) -> None:
        if self._on_progress is None:
            return
        try:
            await self._on_progress(progress)
        except Exception:  # a broken progress card must not stop the broadcast
            log.warning("progress callback failed", exc_info=True,
                        extra={"event": "broadcast_progress_failed", "job_id": progress.job_id})

    async def sleep(self, seconds: float) -> None:
        await self._sleep(seconds)

    # -- internals --------------------------------------------------------------------------------

    def _new_job(self, job_id: str, *, kind: str, op: str, message: Message | None = None,
                 not_before: float | None = None, meta: dict | None = None, pages: list[str] | None = None,
                 total: int | None = None, of_job: str = "", of_version: int = 0, source: str = "",
                 group: str = "") -> dict:
        done = pages is not None and total == 0
        now = self.clock()
        return {"type": "job", "job_id": job_id, "kind": kind, "op": op, "of_job": of_job, "of_version": of_version,
                "source": source, "group": group, "state": "done" if done else "open",
                "not_before": float(not_before or 0), "message": message_body(message), "message_version": 1,
                "pages": pages, "total": total, "meta": dict(meta or {}), "created_at": now, "started_at": None,
                "finished_at": now if done else None,
                "counts": {"sent": 0, "failed": 0, "blocked": 0} if done else None}

    async def _create(self, body: dict, pages: list[str]) -> Progress:
        try:
            await self.store.create(body["job_id"], body)
        except Conflict:
            await self.store.drop_pages(body["job_id"], pages)
            return await self.progress(body["job_id"])
        log.info("broadcast job submitted", extra={"event": "broadcast_submitted", "job_id": body["job_id"],
                                                   "op": body["op"], "total": body["total"]})
        self._wake.set()
        total = body["total"] or 0
        return Progress(body["job_id"], total, 0, 0, 0, total, body["state"] != "open",
                        0.0 if body["state"] != "open" else None, (), body["kind"])

    def _cancelled(self, body: dict) -> dict | None:
        if body["state"] != "open":
            return None
        return {**body, "state": "cancelled", "finished_at": self.clock()}

    async def _cancel_siblings(self, of_job: str) -> None:
        # The newest update/recall of a job covers every card, so older unfinished ones can stop.
        for body in await self.store.jobs_where(of_job=of_job, state="open"):
            await self.store.mutate(body["job_id"], self._cancelled)


def _check_job_id(job_id: str) -> None:
    check_key(job_id, "job id")
    if len(job_id) > 200:
        raise ValueError("job id longer than 200 characters")
