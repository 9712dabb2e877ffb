"""Every phrase the web UI shows in Indonesian has its English, and every value of the
vocabulary has a name in both languages."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from aggregator.domain import Priority, TicketState
from aggregator.events import EventType
from aggregator.webui import login, queue, ticket
from aggregator.webui.base import CSRF_REFUSED
from aggregator.webui.i18n import LABELS, label, translator
from aggregator.webui.phrases import EN

ROOT = Path(__file__).resolve().parents[2] / "aggregator" / "webui"
CALL = re.compile(r'''_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\)''')
RAISED = re.compile(r'(?:FormError|error)\(\s*(?:request,\s*\d+,\s*)?"([^"]+)"')


def sentences(source: str) -> set[str]:
    """String constants of a module that read as a sentence shown to people (docstrings
    and log messages aside)."""
    tree = ast.parse(source)
    docs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
    return {n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docs and n.value[:1].isupper() and n.value.endswith(".")
            and " " in n.value and "{" not in n.value}


def phrases() -> set[str]:
    found: set[str] = set()
    for path in [*ROOT.glob("templates/*.html"), *ROOT.glob("*.py")]:
        text = path.read_text(encoding="utf-8")
        found |= {a or b for a, b in CALL.findall(text)}
        found |= set(RAISED.findall(text))
        if path.suffix == ".py" and path.name not in ("phrases.py", "settings.py"):
            found |= sentences(text)
    found |= set(queue.VIEWS.values()) | set(ticket.NOTICES.values())
    found |= set(login.NOTICES.values()) | {CSRF_REFUSED}
    return found


def test_every_phrase_has_english():
    missing = sorted(p for p in phrases() if p not in EN and "{max_len}" not in p)
    assert missing == []


def test_placeholders_survive_translation():
    for phrase, english in EN.items():
        assert set(re.findall(r"{\w+}", phrase)) == set(re.findall(r"{\w+}", english)), phrase


def test_the_vocabulary_has_names():
    for state in TicketState:
        assert label("id", "state", state.value) != state.value
    for prio in Priority:
        assert label("en", "priority", prio.name.lower())
    assert set(LABELS["state"]) == {s.value for s in TicketState}
    assert translator("en")("Cari") == "Search" and translator("id")("Cari") == "Cari"
    assert "note" in {e.value for e in EventType}
