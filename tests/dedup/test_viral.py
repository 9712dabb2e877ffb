"""A viral incident told many ways stays one ticket: a post naming the facility by
its nickname joins the ticket of the incident; the same words about another facility
do not."""

from __future__ import annotations

from datetime import timedelta

from aggregator.dedup import build_matcher
from aggregator.dedup.abbrev import shortened, skeleton_of
from aggregator.dedup.similarity import names_agree
from aggregator.domain import Author, Report
from aggregator.intake.ingest import Ingestor
from aggregator.intake.pipeline import Pipeline
from storage.types import utcnow

LETTER = ("Pasien lansia ditolak IGD RSUD Pasar Minggu dengan alasan bed penuh, dibiarkan "
          "tergeletak di teras. Mohon Dinkes DKI menindak.")
POST = "Ditolak IGD krn bed penuh, bapaknya sampe rebahan di lantai teras. RSUD {} jgn diem aja"


def report(ext: str, text: str, minutes_ago: float) -> Report:
    return Report(source="x", channel="twitter", external_id=ext, text=text,
                  author=Author(handle=f"warga{ext}"),
                  sent_at=utcnow() - timedelta(minutes=minutes_ago))


def test_shortened_place_names() -> None:
    assert names_agree(("pasming",), ("pasar", "minggu"))  # syllables run together
    assert names_agree(("pm",), ("pasar", "minggu"))  # initials
    assert names_agree(("medsel",), ("medan", "selatan"))
    assert names_agree(("tugurejo", "semarang"), ("tugu", "rejo"))  # written as one
    assert names_agree(("ulin", "bjm"), ("ulin", "banjarmasin"))  # consonants, as in chat
    assert skeleton_of("mks", "makassar")
    # Another facility stays another one.
    assert not names_agree(("pasar", "rebo"), ("pasar", "minggu"))
    assert not names_agree(("pr",), ("pasar", "minggu"))
    assert not names_agree(("fatmawati",), ("pasar", "minggu"))
    assert not shortened(("pasar",), ("panti", "rapih"))
    assert not skeleton_of("bm", "banjarmasin") and not skeleton_of("bjo", "banjarmasin")


async def test_a_nickname_of_the_hospital_joins_its_ticket(sessions, settings) -> None:
    ingestor = Ingestor(sessions, Pipeline(settings, matcher=build_matcher(settings)))
    try:
        (letter,) = await ingestor.submit([report("1", LETTER, 90)])
        (nick,) = await ingestor.submit([report("2", POST.format("Pasming"), 60)])
        (other,) = await ingestor.submit([report("4", POST.format("Pasar Rebo"), 20)])
    finally:
        await ingestor.close()
    assert nick.ticket_number == letter.ticket_number
    assert other.created_ticket and other.ticket_number != letter.ticket_number
