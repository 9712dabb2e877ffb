"""A place a report names only to compare with ("bukan pipa pecah kyk di Ampenan")
is not where it happened: it neither links the report to that place's ticket nor
counts as one of its places."""

from __future__ import annotations

from aggregator.dedup import build_matcher
from aggregator.dedup.features import extract
from aggregator.domain import Author, Report
from aggregator.intake.ingest import Ingestor
from aggregator.intake.pipeline import Pipeline

AMPENAN = ("tiang lapor, aiq PDAM di Kel. Dayan Peken Ampenan endek araq sejak jam 10 "
           "malam. katanya pipa pecah di Jl. Saleh Sungkar?")
CAKRA = ("min di cakranegara air pdam jg mati, katanya ada pemeliharaan reservoir, bukan "
         "pipa pecah kyk di ampenan. kok gak diumumin sih")


def test_compared_place_is_not_where_it_happened():
    doc = extract(CAKRA)
    assert [p.name for p in doc.places] == [("cakranegara",)]
    assert "ampenan" not in doc.names | doc.weak
    assert [p.name for p in extract("Kebayoran Lama juga padam. Sama kayak Kebayoran Baru "
                                    "atau beda gardu?").places] == []
    # Without a comparison the place counts as before.
    assert ("ampenan",) in [p.name for p in extract("air pdam mati di ampenan").places]


async def test_outage_compared_with_another_gets_its_own_ticket(sessions, settings):
    ingestor = Ingestor(sessions, Pipeline(settings, matcher=build_matcher(settings)))
    results = []
    for i, text in enumerate((AMPENAN, CAKRA)):
        (res,) = await ingestor.submit([Report(source="x", channel="twitter",
                                               external_id=str(i), text=text,
                                               author=Author(handle=f"w{i}"))])
        results.append(res)
    await ingestor.close()
    assert results[0].ticket_number != results[1].ticket_number
    assert results[1].match_reason == "new"
