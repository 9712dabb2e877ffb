"""The database-backed near-duplicate matcher (the pipeline's `NearDuplicateMatcher`).

Per batch: the stored reports sharing the most candidate keys with each new report are
read ahead from the index (`store`); per new report, each candidate is verified in
Python (`verdict.compare`) and the best ticket wins (`LshMatcher._choose`). Per stored
report, its signature and keys join the transaction's index rows (`store.Pending`),
written as it commits, so the index commits with the report.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import aggregator.dedup.store as store
from aggregator.config import DedupSettings
from aggregator.dedup.features import Doc, extract
from aggregator.dedup.fragments import PER_FRAGMENT, fragments_of
from aggregator.dedup.keys import index_keys, lock_keys, query_keys
from aggregator.dedup.merge import fold_tickets
from aggregator.dedup.similarity import Verdict
from aggregator.dedup.verdict import compare, may_recur
from aggregator.domain import Report
from aggregator.intake.matching import Match
from storage import repo
from storage.models import Ticket
from storage.types import utcnow

log = logging.getLogger("aggregator.dedup")
PARSED_CACHE = 1_000  # ~3.8 KB a parsed signature (parsing one takes ~40 us)
SIGNATURES = 4_096  # prepared signatures waiting for their transaction (~7 KB each)
# A batch this small (a report arriving alone, the common case off-peak) reads its
# candidates one statement a report on SQLite: ~0.5 ms each, where the batch's two
# statements (`newest`, `rows_by_id`) cost ~2 ms whatever the batch's size. On
# PostgreSQL the batch's array statement is as quick for one report (measured alike).
ALONE = 3
PER_TICKET = 3  # reports of one ticket verified per new report (most shared keys first)
BRIDGE = 2  # reports of each of two tickets a new report must match to fold them
FOLD_ACTOR = "system:matcher"
FRAGMENT_TICKETS = 2  # other tickets a report matched weighed as fragments (best first)
OUTVOTE = 2  # reports of a ticket that must match a report one certain "no" does not keep out
# Links of the written rules that pin a report to one of a ticket's reports (the same
# place, names, event or sender, not the text or the model alone): "different names"
# from another report of that ticket (a burst's reporter naming their own street,
# campus or neighbour) does not keep it out.
PINNED = frozenset({"same place", "same event, same place", "same sender", "same names",
                    "same event, same name", "same event, same town"})


@dataclass
class _Best:
    ticket_id: int
    report_id: int
    verdict: Verdict


class LshMatcher:
    def __init__(self, settings: DedupSettings):
        self.settings = settings
        self._docs: dict[int, tuple[Report, Doc]] = {}  # id(report) -> signature
        self._rows: dict[int, Doc] = {}  # report id -> stored signature, parsed

    # ------------------------------------------------------------------ protocol

    async def find(
        self, session: AsyncSession, report: Report, reporter_id: int | None
    ) -> Match | None:
        doc = self.signature(report)
        keys = query_keys(doc)
        if not keys:
            return None
        now = utcnow()
        prefetched = store.prefetched(session).get(id(report))
        if prefetched is not None and prefetched[0] is report:
            rows = list(prefetched[2])
        else:
            rows = await store.candidates(session, keys, now, self.settings)
        pending = store.added(session)
        if pending is not None:
            # Most shared keys first, as many as from the table: a key every report of
            # a batch shares (one kind of incident) must not make the batch quadratic.
            rows += pending.candidates(set(keys), 2 * self.settings.max_candidates)
        # Only tickets on the report's side of the confidentiality boundary: the best
        # match being a sealed ticket must not keep an open report from its open one.
        folds = store.folds(session)
        candidates = [r for r in rows if bool(r.confidential) == report.sealed]
        best, fold, near = self._choose(doc, candidates, folds)
        if best is None:
            return None
        reason = "one report matched both"
        if not fold and near and best.verdict.same:
            fold = self._fragments(doc, best.ticket_id, near, candidates, folds)
            if fold:  # the oldest fragment stays, as when bridged
                reason, target = "fragments of one incident", min(best.ticket_id, *fold)
                fold = [t for t in (best.ticket_id, *fold) if t != target]
                best = _Best(target, best.report_id, best.verdict)
        for other in fold:
            # From now on the batch sees one ticket; `settle` writes the merge.
            folds.into[other] = best.ticket_id
            folds.todo.append((other, best.ticket_id, {
                "reason": reason,
                "report": f"{report.source}:{report.external_id}",
                "score": round(best.verdict.score, 4)}))
        return Match(
            ticket_id=best.ticket_id, score=best.verdict.score,
            detail={"matched_report_id": best.report_id, **best.verdict.detail},
            recurrence=not best.verdict.same,
        )

    async def index(
        self, session: AsyncSession, report: Report, report_id: int, ticket_id: int,
        confidential: bool = False,
    ) -> None:
        doc = self.signature(report)
        self._docs.pop(id(report), None)
        store.pending(session).add(report_id, ticket_id, doc, index_keys(doc), confidential)

    async def prefetch(self, session: AsyncSession, reports: Sequence[Report]) -> None:
        """Candidates for a whole batch in a few statements instead of one per report
        (optional; the pipeline calls it when present), or on SQLite one per report
        when there are at most ALONE. Per key the newest PER_KEY stored reports count
        either way (`store.candidates`, `store.newest`)."""
        cfg = self.settings
        now = utcnow()
        docs = {}
        for r in reports:
            doc = self.signature(r)
            docs[id(r)] = (r, doc, query_keys(doc))
        await store.lock(session, (k for _, doc, _ in docs.values() for k in lock_keys(doc)))
        if len(docs) <= ALONE and repo.dialect(session) == "sqlite" and \
                all(len(k) <= store.KEY_SLOTS for _, _, k in docs.values()):
            store.keep_prefetched(session, {
                rid_of: (report, doc, await store.candidates(session, keys, now, cfg))
                for rid_of, (report, doc, keys) in docs.items()})
            return
        wanted = sorted({k for _, _, keys in docs.values() for k in keys})
        by_key = await store.newest(session, wanted, now - timedelta(days=cfg.max_age_days))
        tops = {rid_of: store.most_shared(by_key, keys, cfg.max_candidates)
                for rid_of, (_, _, keys) in docs.items()}
        rows = await store.rows_by_id(session, list({r for top in tops.values() for r in top}),
                                      now, cfg)
        store.keep_prefetched(session, {
            rid_of: (report, doc, [rows[r] for r in tops[rid_of] if r in rows])
            for rid_of, (report, doc, _) in docs.items()
        })

    async def settle(self, session: AsyncSession) -> dict[int, Ticket]:
        """Write the transaction's folds (the pipeline calls this after the batch's
        reports are stored, so they move too): each folded ticket is merged into the
        one a report bridged it to, as staff would (`merge.fold_tickets`: audit
        events, a "merged" message to the reporters moved). Returns folded ticket id
        -> the ticket its reports are now on."""
        found = store.folds(session)
        moved: dict[int, Ticket] = {}
        for source, target, why in found.todo:
            result = await fold_tickets(session, source, target, FOLD_ACTOR, why)
            if result is not None:
                log.info("folded %s into %s (%s)", result.source, result.target, why)
        for source in found.into:
            ticket = await repo.resolve_ticket(session, await session.get(Ticket, source))
            if ticket is not None:
                moved[source] = ticket
        found.todo.clear()
        return moved

    def forget(self, report: Report) -> None:
        """A prepared report that will not be indexed: it was stored before (a replay,
        a mail polled again). Its signature would otherwise wait for SIGNATURES more."""
        self._docs.pop(id(report), None)

    def prepare(self, reports: Sequence[Report]) -> None:
        """Signatures and keys before the write transaction (the pipeline calls this
        when present); find() and index() then only look them up."""
        for report in reports:
            index_keys(self.signature(report))

    # ------------------------------------------------------------------ steps

    def _parsed(self, row: Any) -> Doc:
        """Stored signatures never change: parse each once while it is in use. Least
        recently used first out: the reports of an ongoing incident are candidates
        again and again and stay; the one-off candidates of a steady stream leave, so
        the cache keeps a working set, not a copy of every report verified lately."""
        doc = self._rows.pop(row.report_id, None)
        if doc is None:
            if len(self._rows) >= PARSED_CACHE:
                self._rows.pop(next(iter(self._rows)))
            doc = store.doc_from_row(row)
        self._rows[row.report_id] = doc  # newest last
        return doc

    def signature(self, report: Report) -> Doc:
        """The report's signature, computed once for find() and index()."""
        cached = self._docs.get(id(report))
        if cached is not None and cached[0] is report:
            return cached[1]
        doc = extract(report.text, title=report.title, author=report.author,
                      meta=report.meta, at=report.sent_at or utcnow())
        if len(self._docs) > SIGNATURES:  # entries leave in index(); this bounds the rest
            self._docs.clear()
        self._docs[id(report)] = (report, doc)
        return doc

    def _choose(self, doc: Doc, rows: list[Any], folds: store.Folds | None = None
                ) -> tuple[_Best | None, list[int], list[int]]:
        """Verify candidates, best first, at most PER_TICKET reports of a ticket (the
        ones sharing most keys): a burst of one incident retold a hundred times costs a
        few comparisons per report, not a hundred. A ticket is joined when one of them
        matches and none of them is certainly another incident (a hard "no" of the
        rules: different places, names, personal numbers): matching one loose report
        of a ticket is not enough to join it, so a chain of near misses does not grow
        one ticket over several incidents. One such "no" is outvoted when more of the
        ticket's checked reports (OUTVOTE at least) match: a viral incident's reports
        name the streets and villages each writer is in, and the one that names
        another than the new report's is a witness among several, not the incident.
        "Different names" alone does not keep out a report that matched one of the
        ticket's reports by a link (`PINNED`): the reports of one burst each name
        their own street, campus or neighbour.
        Tickets a candidate was split from are verified in full (the split rule needs
        the best verdict on both sides). With no match, the best earlier ticket the
        report would have joined but for the recurrence rule (its verdict not `same`).

        Also the tickets to fold into the chosen one (`_bridged`): a viral incident
        often opens two tickets before any report links them, and later reports then
        join one or the other. `folds`: tickets folded earlier in this transaction,
        read as the ticket they were folded into.

        Last, when nothing is folded, the other tickets the report matched (not
        split by staff): `_fragments` weighs each against the chosen one."""
        resolve = folds.resolve if folds is not None else (lambda t: t)
        by_ticket: dict[int, _Best] = {}
        recurs: _Best | None = None
        apart: list[tuple[int, Verdict]] = []  # (ticket split from, verdict vs the report)
        guarded = {resolve(stored.apart) for stored in rows if stored.apart is not None}
        tried: dict[int, int] = {}
        agree: dict[int, list[Doc]] = {}  # ticket -> its reports that matched
        dissent: dict[int, int] = {}  # ticket -> its checked reports certainly another
        named: set[int] = set()  # a report of the ticket names other names only
        for stored in rows:
            ticket_id = resolve(stored.ticket_id)
            apart_from = None if stored.apart is None else resolve(stored.apart)
            if apart_from is None and ticket_id not in guarded and \
                    tried.get(ticket_id, 0) >= PER_TICKET:
                continue
            tried[ticket_id] = tried.get(ticket_id, 0) + 1
            other = stored.doc if isinstance(stored, store.Indexed) else self._parsed(stored)
            if apart_from is None and _out(ticket_id, ticket_id in guarded, tried,
                                           agree, dissent) and \
                    not may_recur(doc, other, self.settings):
                # The ticket is out already: its checked reports that are certainly
                # another incident can no longer be outvoted, whatever this one says.
                # The rules' hard "no" is most of what a stream of distinct reports is
                # verified against.
                continue
            verdict = compare(doc, other, self.settings)
            if verdict.detail.get("apart") == "different names":
                named.add(ticket_id)
            elif verdict.detail.get("apart") not in (None, "recurrence"):
                dissent[ticket_id] = dissent.get(ticket_id, 0) + 1
            if not verdict.same:
                if verdict.detail.get("recurs") and apart_from is None and (
                        recurs is None or _rank(verdict) > _rank(recurs.verdict)):
                    recurs = _Best(ticket_id, stored.report_id, verdict)
                continue
            if apart_from is not None:
                apart.append((apart_from, verdict))
            else:
                agree.setdefault(ticket_id, []).append(other)
            current = by_ticket.get(ticket_id)
            if current is None or _rank(verdict) > _rank(current.verdict):
                by_ticket[ticket_id] = _Best(ticket_id, stored.report_id, verdict)
        for ticket_id, against in dissent.items():
            if _stands(against, len(agree.get(ticket_id, ()))):
                by_ticket.pop(ticket_id, None)
        for ticket_id in named:
            held = by_ticket.get(ticket_id)
            if held is not None and held.verdict.detail.get("link") not in PINNED:
                del by_ticket[ticket_id]
        # Staff split report R out of ticket T: a report at least as close to R as to
        # T is not folded into T.
        for from_ticket, verdict in apart:
            held = by_ticket.get(from_ticket)
            if held is not None and _rank(held.verdict) <= _rank(verdict):
                del by_ticket[from_ticket]
        if not by_ticket:
            return recurs, [], []
        best = max(by_ticket.values(), key=lambda b: (_rank(b.verdict), -b.ticket_id))
        split = guarded | {resolve(s.ticket_id) for s in rows if s.apart is not None}
        bridged = _bridged(by_ticket, agree, split)
        if best.ticket_id not in bridged:
            near = sorted((t for t in by_ticket if t != best.ticket_id and t not in split),
                          key=lambda t: _rank(by_ticket[t].verdict), reverse=True)
            return best, [], near[:FRAGMENT_TICKETS]
        # The oldest fragment stays: the ticket staff have known longest.
        target = by_ticket[min(bridged)]
        fold = [t for t in bridged if t != target.ticket_id
                and self._linked(agree[t], agree[target.ticket_id])]
        return (target if fold else best), fold, []

    def _fragments(self, doc: Doc, ticket_id: int, near: list[int], rows: list[Any],
                   folds: store.Folds) -> list[int]:
        """The tickets of `near` that are fragments of `ticket_id`'s incident, the new
        report counted in (`fragments.fragments_of`): their reports among the
        candidates (those sharing most keys with the new report, stored or added by
        this transaction) weighed all against all."""
        docs: dict[int, list[Doc]] = {t: [] for t in (ticket_id, *near)}
        for stored in rows:
            group = docs.get(folds.resolve(stored.ticket_id))
            if group is not None and len(group) < PER_FRAGMENT:
                group.append(stored.doc if isinstance(stored, store.Indexed)
                             else self._parsed(stored))
        ours = [doc, *docs.pop(ticket_id)]
        return fragments_of(ours, docs, self.settings)

    def _linked(self, ours: list[Doc], theirs: list[Doc]) -> bool:
        """Whether two tickets are linked without the new report: one of the reports
        it matched in one is itself a match for one it matched in the other. A report
        can fit two incidents at one place through what they share ("sampah di
        Sukajadi" against rubbish not collected and rubbish burnt there); two
        fragments of one incident also match each other, somewhere."""
        return any(compare(a, b, self.settings).same for a in ours for b in theirs)


def _out(ticket_id: int, guarded: bool, tried: dict[int, int],
         agree: dict[int, list[Doc]], dissent: dict[int, int]) -> bool:
    """Whether a ticket's "no"s (`dissent`) stand whatever its next checked report
    says: at most PER_TICKET of its reports are checked (all, if a staff split
    guards it), and OUTVOTE of them, more than say "no", must match to outvote."""
    against = dissent.get(ticket_id, 0)
    if guarded:
        return against >= OUTVOTE
    return _stands(against, len(agree.get(ticket_id, ())) + PER_TICKET - tried[ticket_id] + 1)


def _stands(against: int, matched: int) -> bool:
    """Whether `against` certain "no"s of a ticket's checked reports keep a report
    out although `matched` of them match it."""
    return against > 0 and (matched < OUTVOTE or matched <= against)


def _bridged(by_ticket: dict[int, _Best], agree: dict[int, list[Doc]], split: set[int]
             ) -> list[int]:
    """The tickets a report bridges: two or more of them, BRIDGE of whose reports
    each match it while their checked reports that are certainly another incident,
    if any, are outvoted (`by_ticket` holds only such tickets). Matching one report
    of each is not enough: a report that fits one loose report of two incidents at
    one hospital ties them only through itself; matching two of each, it is what
    both tickets are about.
    Tickets a staff split touched (`split`) are left as staff left them."""
    bridged = [t for t in by_ticket if len(agree.get(t, ())) >= BRIDGE and t not in split]
    return bridged if len(bridged) >= 2 else []


def _rank(verdict: Verdict) -> tuple[float, float]:
    """Score (capped at 1), then the bare text similarity to break ties."""
    return verdict.score, verdict.detail.get("text", 0.0)
