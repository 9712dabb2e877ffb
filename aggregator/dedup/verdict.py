"""The verdict on two reports: the written rules (`similarity`) first, the learned
model (`pairs`, `model`) for what they leave open, and the recurrence rule. Pure, no
I/O."""

from __future__ import annotations

from aggregator.dedup.features import ANOTHER, Doc
from aggregator.dedup.model import MODEL_FILE, model_at
from aggregator.dedup.pairs import NAMES, cheap_features, costly_features
from aggregator.dedup.similarity import Thresholds, Verdict, town_and_regency, written_rules

SAME_SENDER_BAR = 0.5


def hours_apart(new: Doc, old: Doc) -> float:
    """By the reports' own time; 0 when either has none."""
    return abs(new.at - old.at) / 3600 if new.at and old.at else 0.0


def may_recur(new: Doc, old: Doc, cfg: Thresholds) -> bool:
    """Whether `compare` may link the two as a recurrence (`recurs`): only reports
    sent further apart than `recurrence_hours`."""
    return hours_apart(new, old) > cfg.recurrence_hours


def compare(new: Doc, old: Doc, cfg: Thresholds) -> Verdict:
    hours = hours_apart(new, old)
    verdict = _judge(new, old, cfg, hours)
    if may_recur(new, old, cfg):
        # Sent weeks apart (by the reports' own time, not when we stored them): a
        # recurrence is a new incident. When everything else says "same", the new
        # ticket links to the earlier one (`recurs`), so staff see the history.
        return Verdict(False, verdict.score if verdict.same else 0.0,
                       {"apart": "recurrence", "hours": round(hours),
                        "recurs": verdict.same})
    return verdict


def _judge(new: Doc, old: Doc, cfg: Thresholds, hours: float) -> Verdict:
    """Every rule but the recurrence one. The written rules say "no" for certain
    (different places, names, personal numbers; far apart) or "yes" (the text clears
    a bar that links lower); when the text alone falls short, the learned model
    weighs all the evidence (`pairs`, `model`): a chat in slang and a formal letter
    about one incident share few words but much else."""
    verdict = _by_rules(new, old, cfg, hours)
    if _settled(verdict):
        return verdict
    model = model_at(cfg.model or MODEL_FILE)
    bar = model.threshold if cfg.threshold is None else cfg.threshold
    if new.contact is not None and new.contact == old.contact and \
            hours <= cfg.time_window_hours:
        bar = min(bar, SAME_SENDER_BAR)  # one person writing again within days
    features = cheap_features(new, old, cfg.time_window_hours, cfg.near_km)
    ceiling = model.ceiling(features)
    if ceiling < bar:
        # Most pairs the rules leave open: "no" whatever the costly features say
        # (the exact probability of a "no" is shown nowhere but here).
        return Verdict(False, verdict.score, {**verdict.detail, "p_max": round(ceiling, 3)})
    features.update(costly_features(new, old, features))
    p = model.probability([features[name] for name in NAMES])
    return Verdict(p >= bar, verdict.score, {**verdict.detail, "p": round(p, 3)})


def settled_by_rules(new: Doc, old: Doc, cfg: Thresholds) -> bool:
    """Whether the written rules decide this pair (the model is not asked): what the
    model is trained on is the rest."""
    return _settled(_by_rules(new, old, cfg, hours_apart(new, old)))


def _by_rules(new: Doc, old: Doc, cfg: Thresholds, hours: float) -> Verdict:
    if town_and_regency(new.places, old.places):
        return Verdict(False, 0.0, {"apart": "different places"})
    if (ANOTHER in new.topic or ANOTHER in old.topic) and not (
            new.contact is not None and new.contact == old.contact):
        # "bukan yg viral": the writer knows of the other incident and says theirs is
        # not it. Only the same writer's later report joins theirs.
        return Verdict(False, 0.0, {"apart": "another incident"})
    return written_rules(new, old, cfg, hours)


def _settled(verdict: Verdict) -> bool:
    return verdict.same or "apart" in verdict.detail
