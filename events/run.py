"""One pass over one leased broadcast job: load once, claim and send with bounded concurrency, report.

The job's pages and delivery records are read once per pass (one partition query); after that each
delivery costs its claim and its outcome write, never a query.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING

from dialogs.context import Message
from events.jobs import FAILURES_SHOWN, TERMINAL, Entry, Progress, entries_for, message_body, message_from, outcome
from storage.base import Document

if TYPE_CHECKING:
    from events.broadcast import BroadcastEngine

log = logging.getLogger(__name__)

RATE_WINDOW_S = 60.0


class JobRun:
    """State of one pass; `work()` returns the number of Messenger calls made."""

    def __init__(self, engine: "BroadcastEngine", job_id: str, lease: str) -> None:
        self.engine = engine
        self.store = engine.store
        self.job_id = job_id
        self.lease = lease
        self.job: dict = {}
        self.message: Message | None = None
        self.version = 1
        self.total = 0
        self.counts = {status: 0 for status in TERMINAL}
        self.failures: list[tuple[str, str]] = []
        self.sends = 0
        self.unsettled = 0       # recipients this pass could not settle: the job is not done yet
        self.stop = False        # lease lost, job cancelled or engine stopping
        self.done = False
        self.cancelled = False
        now = engine.clock()
        self.last_tick = now
        self.samples: deque[tuple[float, int]] = deque([(now, 0)])
        self._ticking = False
        self._report: asyncio.Task | None = None

    async def work(self) -> int:
        doc = await self.store.read(self.job_id)
        if doc is None or doc.body["state"] != "open":
            return 0
        job = doc.body
        if job.get("pages") is None:
            job = await self._resolve(job)
            if job is None:
                return 0
            if job["state"] != "open":  # nothing to update, recall or remind: say so once
                self.job, self.done = job, job["state"] == "done"
                await self.engine.report(self.progress())
                return 0
        if not job.get("started_at"):
            now = self.engine.clock()
            job = await self.store.mutate(self.job_id, lambda b: None if b.get("started_at") else
                                          {**b, "started_at": now}) or job
        self.job, self.total = job, job["total"]
        self.message, self.version = message_from(job.get("message")), job.get("message_version", 1)
        todo = await self._todo(await self.store.read_pages(self.job_id, job["pages"]))
        self.samples = deque([(self.engine.clock(), self.finished)])
        ticker = asyncio.create_task(self._ticker())
        try:
            async with asyncio.TaskGroup() as group:
                for entry, previous in todo:
                    await self.engine.slots.acquire()
                    await self._tick()  # after the wait for a slot: a cancellation must stop this send
                    if self.stop or self.engine.stopping:
                        self.engine.slots.release()
                        self.unsettled += 1  # the rest stays pending for the next pass
                        break
                    task = group.create_task(self._deliver(entry, previous))
                    task.add_done_callback(lambda _: self.engine.slots.release())
        finally:
            ticker.cancel()
        if self._report is not None:
            await self._report  # the final report must come after the last interim one
        if not self.stop and self.unsettled == 0:
            await self._finish()
        await self.engine.report(self.progress())
        return self.sends

    @property
    def finished(self) -> int:
        return sum(self.counts.values())

    def progress(self) -> Progress:
        pending = max(self.total - self.finished, 0)
        return Progress(self.job_id, self.total, self.counts["sent"], self.counts["failed"], self.counts["blocked"],
                        pending, self.done or self.cancelled, 0.0 if self.done else self._eta(pending),
                        tuple(self.failures[:FAILURES_SHOWN]), self.job.get("kind", ""), self.cancelled)

    # -- internals --------------------------------------------------------------------------------

    async def _todo(self, entries: list[Entry]) -> list[tuple[Entry, Document | None]]:
        records = {d.id: d for d in await self.store.records(self.job_id)}
        todo: list[tuple[Entry, Document | None]] = []
        for entry in entries:
            record = records.get(entry.record_id)
            if record is None:
                todo.append((entry, None))
            elif record.body["status"] in TERMINAL:
                self._count(record.body)
            elif self._reclaimable(record.body):
                todo.append((entry, record))
            else:
                self.unsettled += 1  # another live instance may still be sending it
        return todo

    def _reclaimable(self, body: dict) -> bool:
        engine = self.engine
        if body.get("owner") == engine.instance_id and body.get("run") != engine.run_id:
            return True  # claimed by an earlier process of this instance id, which is gone
        return engine.clock() - float(body.get("claimed_at") or 0) >= engine.grace_seconds

    async def _deliver(self, entry: Entry, previous: Document | None) -> None:
        engine, job_id = self.engine, self.job_id
        prior = previous.body if previous is not None else {}
        attempts = int(prior.get("attempts", 0))
        message, version = self.message, self.version
        base = {"type": "delivery", "conversation_id": entry.conversation_id, "kind": entry.kind,
                "label": entry.label, "target": entry.target, "tries": int(prior.get("tries", 0)),
                "owner": engine.instance_id, "run": engine.run_id, "v": version, "activity_id": "", "error": ""}
        try:
            if attempts >= engine.max_attempts:
                # Claimed this often and never settled: something kills the sender; stop trying.
                body = {**base, "status": "failed", "attempts": attempts, "claimed_at": engine.clock(),
                        "error": f"Abgebrochen nach {attempts} unterbrochenen Versuchen"}
                if await self.store.claim(job_id, entry, body, previous) is None:
                    self.unsettled += 1
                else:
                    self._count(body)
                return
            claim_body = {**base, "status": "in_flight", "attempts": attempts + 1, "claimed_at": engine.clock()}
            claim = await self.store.claim(job_id, entry, claim_body, previous)
            if claim is None:
                self.unsettled += 1  # somebody else holds or settled it
                return
            self.sends += 1
            delivery = await engine.call(self.job["op"], entry, message)
            status, reason = outcome(delivery)
            body = {**claim_body, "status": status, "error": reason, "tries": base["tries"] + delivery.attempts,
                    "activity_id": delivery.activity_id or entry.target, "settled_at": engine.clock()}
            if await self.store.settle(job_id, claim, body):
                self._count(body)
            else:
                self.unsettled += 1  # re-claimed after the grace period: the new owner counts it
        except asyncio.CancelledError:
            raise
        except Exception:
            # Left in_flight: retried after the grace period (the send may or may not have happened).
            log.warning("broadcast delivery not settled", exc_info=True, extra={
                "event": "broadcast_delivery_error", "job_id": job_id, "conversation_id": entry.conversation_id})
            self.unsettled += 1

    def _count(self, body: dict) -> None:
        status = body["status"]
        self.counts[status] += 1
        if status != "sent":
            self.failures.append((body.get("label") or body["conversation_id"], body.get("error", "")))

    async def _ticker(self) -> None:
        # Ticks also happen between sends; this one covers stalls (e.g. a long Retry-After pause).
        while True:
            await self.engine.sleep(self.engine.tick_every)
            await self._tick()

    async def _tick(self) -> None:
        """Every few seconds: renew the lease, notice cancellation or a new message, report progress."""
        engine = self.engine
        now = engine.clock()
        if self._ticking or now - self.last_tick < engine.tick_every:
            return
        self._ticking, self.last_tick = True, now
        try:
            if not await engine.leases.acquire(self.lease, engine.instance_id, engine.lease_seconds, now=now):
                log.warning("broadcast lease lost", extra={"event": "broadcast_lease_lost", "job_id": self.job_id})
                self.stop = True
            doc = await self.store.read(self.job_id)
            if doc is None or doc.body["state"] != "open":
                self.stop = True
                self.cancelled = doc is None or doc.body["state"] == "cancelled"
            elif doc.body.get("message_version", 1) != self.version:
                self.message = message_from(doc.body.get("message"))
                self.version = doc.body.get("message_version", 1)
            self.samples.append((now, self.finished))
            while len(self.samples) > 2 and now - self.samples[1][0] >= RATE_WINDOW_S:
                self.samples.popleft()
            if self._report is None or self._report.done():
                # Updating the author's card goes through the same rate limit: never hold up the sends for it.
                self._report = asyncio.create_task(engine.report(self.progress()))
        except Exception:  # the next tick tries again; the claims keep the deliveries safe meanwhile
            log.warning("broadcast tick failed", exc_info=True, extra={"event": "broadcast_tick_failed",
                                                                       "job_id": self.job_id})
        finally:
            self._ticking = False

    def _eta(self, pending: int) -> float | None:
        then, finished_then = self.samples[0]
        elapsed, finished = self.engine.clock() - then, self.finished - finished_then
        if finished <= 0 or elapsed <= 0:
            return None
        return pending / (finished / elapsed)

    async def _finish(self) -> None:
        now, counts = self.engine.clock(), dict(self.counts)
        stored = await self.store.mutate(self.job_id, lambda b: None if b["state"] != "open" else
                                          {**b, "state": "done", "finished_at": now, "counts": counts})
        self.done = stored is not None and stored["state"] == "done"
        self.cancelled = stored is not None and stored["state"] == "cancelled"
        log.info("broadcast job finished", extra={"event": "broadcast_finished", "job_id": self.job_id, **counts})

    async def _resolve(self, job: dict) -> dict | None:
        """Materialise the recipients of an update/recall or a deferred job; None while it must wait."""
        message = message_from(job.get("message"))
        if job["op"] in ("update", "delete"):
            entries = await self._targets(job)
            if entries is None:
                return None
        else:
            source = self.engine.source(job.get("source", ""))
            if source is None:
                log.warning("no source for deferred job", extra={"event": "broadcast_no_source",
                                                                 "job_id": self.job_id, "source": job.get("source")})
                return None
            message, recipients = await source(self.job_id, dict(job.get("meta") or {}))
            entries = entries_for(recipients) if message is not None else []
        pages = await self.store.write_pages(self.job_id, entries)
        now = self.engine.clock()

        def resolved(b: dict) -> dict | None:
            if b.get("pages") is not None or b["state"] != "open":
                return None
            b.update(pages=pages, total=len(entries), message=message_body(message))
            if not entries:
                b.update(state="done", finished_at=now, counts={s: 0 for s in TERMINAL})
            return b

        stored = await self.store.mutate(self.job_id, resolved)
        if stored is None or stored.get("pages") != pages:
            await self.store.drop_pages(self.job_id, pages)
        return stored

    async def _targets(self, job: dict) -> list[Entry] | None:
        """The cards to update or recall: wait until the original job and older recalls have settled."""
        of_job, since = job["of_job"], self.engine.clock() - self.engine.grace_seconds
        blockers = [of_job] + [b["job_id"] for b in await self.store.jobs_where(of_job=of_job)
                               if b["job_id"] != self.job_id]
        for blocker in blockers:
            doc = await self.store.read(blocker)
            if doc is not None and doc.body["state"] == "open":
                return None
            if await self.store.young_in_flight(blocker, since):
                return None
        of_version = job.get("of_version", 0)
        return [Entry(b["conversation_id"], b.get("kind", "user"), b.get("label", ""), b["activity_id"])
                for b in (d.body for d in await self.store.records(of_job, "sent"))
                if b.get("activity_id") and (job["op"] == "delete" or b.get("v", 0) < of_version)]
