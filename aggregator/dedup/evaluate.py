"""Measure the matcher against a labelled set: pairwise precision, recall and F1.

A labelled set is JSON lines, one report each: {"id", "cluster", "channel" (email,
telegram, twitter, webhook), "handle", "hours" (when it was sent, relative), "text",
optional "title", "lat", "lon"}. Reports with the same "cluster" are about one
real-world problem. Pairwise: every pair of reports is a true pair when they share a
cluster, a predicted pair when they landed on one ticket.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aggregator.domain import Author, Report

SOURCES = {"email": "mail", "telegram": "tg", "twitter": "x", "webhook": "lapor"}


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    tickets: int
    clusters: int

    def line(self) -> str:
        return (f"precision {self.precision:.3f}  recall {self.recall:.3f}  F1 {self.f1:.3f}  "
                f"({self.correct_pairs}/{self.predicted_pairs} predicted pairs right, "
                f"{self.correct_pairs}/{self.true_pairs} true pairs found; "
                f"{self.tickets} tickets for {self.clusters} clusters)")


def load(path: str | Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    return sorted(records, key=lambda r: (r["hours"], r["id"]))


def to_reports(records: Iterable[Mapping[str, Any]], now: datetime) -> list[Report]:
    """Reports as the connectors would hand them in; the last one sent an hour ago."""
    records = list(records)
    last = max((r["hours"] for r in records), default=0.0)
    out = []
    for r in records:
        handle = str(r["handle"])
        meta = {"lat": r["lat"], "lon": r["lon"]} if "lat" in r else {}
        out.append(Report(
            source=SOURCES.get(r["channel"], r["channel"]), channel=r["channel"],
            external_id=str(r["id"]), text=r["text"], title=r.get("title"),
            author=Author(handle=handle, email=handle if "@" in handle else None),
            sent_at=now - timedelta(hours=last - r["hours"] + 1), meta=meta,
        ))
    return out


def pairwise(clusters: Mapping[str, str], tickets: Mapping[str, str]) -> Scores:
    """`clusters` and `tickets`: report id -> its cluster / the ticket it landed on."""
    ids = sorted(clusters)
    true = predicted = correct = 0
    for a, b in itertools.combinations(ids, 2):
        same_cluster = clusters[a] == clusters[b]
        same_ticket = tickets[a] == tickets[b]
        true += same_cluster
        predicted += same_ticket
        correct += same_cluster and same_ticket
    precision = correct / predicted if predicted else 1.0
    recall = correct / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision, recall, f1, true, predicted, correct,
                  len(set(tickets.values())), len(set(clusters.values())))
