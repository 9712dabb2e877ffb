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


BURST = [
    "KRL arah Bogor tertahan di antara Stasiun Manggarai dan Tebet hampir satu jam, "
    "AC mati, penumpang mulai lemas. Tolong @CommuterLine segera evakuasi",
    "udh 50 menit krl berhenti di tengah rel deket manggarai, ga ada info sama sekali 😡",
    "KRL mogok lagi di Manggarai, ribuan penumpang telat ngantor. @CommuterLine",
]
SHORT = "kartu yg udah tap in di st bogor bisa refund ga? krl ga berangkat2 dr tadi"


async def test_a_post_naming_only_the_service_joins_the_burst(sessions, settings) -> None:
    """In a viral moment many posts name the service and little else: no place of the
    burst, no kind of incident. They are found by the service and the hours (the
    verdict then weighs them as any other pair), not by a rare word they share."""
    ingestor = Ingestor(sessions, Pipeline(settings, matcher=build_matcher(settings)))
    try:
        first = [(await ingestor.submit([report(f"b{i}", text, 50 - 10 * i)]))[0]
                 for i, text in enumerate(BURST)]
        (short,) = await ingestor.submit([report("s", SHORT, 15)])
    finally:
        await ingestor.close()
    assert len({r.ticket_number for r in first}) == 1
    assert short.ticket_number == first[0].ticket_number
