"""Full-text search over report text in the queue (SQLite FTS5 / PostgreSQL tsvector),
through the JSON API: words, phrases, exclusions, alternatives, ticket numbers, and
whatever people type (FTS5 syntax, quotes, stars) answered without an error."""

from __future__ import annotations

import pytest

from aggregator.domain import Author, Report
from aggregator.tickets import search
from tests.core.helpers import Api, running, service_settings, token_for


def parsed(raw: str) -> str:
    return search.fts5_query(search.parse(raw))


def test_every_token_is_quoted_for_fts5():
    assert parsed("jalan rusak") == '"jalan" AND "rusak"'
    assert parsed('"lampu jalan" -banjir') == '("lampu jalan") NOT "banjir"'
    assert parsed("sampah or limbah pasar") == '("sampah" OR "limbah") AND "pasar"'
    assert parsed('AND OR NOT * col:x NEAR(a b) "') == (
        '("and" OR "not") AND "col x" AND "near a" AND "b"')
    assert parsed("RT-05") == '"rt 05"'
    assert search.parse("-banjir").empty  # nothing to look for
    assert search.parse("adu-2026-000123").number == "ADU-2026-000123"
    assert search.websearch_text(search.parse('"lampu jalan" -banjir or x')) == \
        '"lampu jalan" -banjir or x'


def test_snippets_mark_matched_words():
    text = "Warga mengeluhkan jalan rusak berlubang di depan pasar Cempaka sejak lama."
    shown, spans = search.snippet(text, search.parse("rusak pasar"))
    assert [shown[a:b] for a, b in spans] == ["rusak", "pasar"]


def reports() -> list[Report]:
    texts = [
        "Lampu jalan mati di depan SDN Kenanga sejak seminggu",
        "Jalan rusak berlubang di RT-05 Kelurahan Melati, banyak motor jatuh",
        "Banjir setinggi lutut di perumahan, saluran tersumbat sampah",
        "Pelayanan KTP di kecamatan lambat, antre dari pagi",
        "Limbah pabrik tahu dibuang ke sungai, bau menyengat",
    ]
    return [Report(source="lapor", channel="web-form", external_id=f"s{i}", text=t,
                   author=Author(handle=f"w{i}", name=f"Warga {i}"))
            for i, t in enumerate(texts)]


@pytest.fixture
async def env(db_url, tmp_path):
    async with running(service_settings(db_url, tmp_path)) as svc:
        results = await svc.ingestor.submit(reports())
        api = Api(svc.web_url, await token_for(svc, "kepala", "supervisor"))
        yield svc, api, [r.ticket_number for r in results]


async def found(api: Api, q: str) -> list[str]:
    status, body = await api.call("GET", "/api/tickets", params={"q": q, "state": "open"})
    assert status == 200, body
    return sorted(t["number"] for t in body["tickets"])


async def test_words_phrases_exclusions_and_numbers(env):
    svc, api, numbers = env
    assert await found(api, "jalan") == sorted([numbers[0], numbers[1]])
    assert await found(api, "JALAN rusak") == [numbers[1]]
    assert await found(api, '"lampu jalan"') == [numbers[0]]
    assert await found(api, '"jalan lampu"') == []
    assert await found(api, "jalan -lampu") == [numbers[1]]
    assert await found(api, "banjir or limbah") == sorted([numbers[2], numbers[4]])
    assert await found(api, "rt-05") == [numbers[1]]
    assert await found(api, numbers[3].lower()) == [numbers[3]]
    assert await found(api, "kereta") == []
    _, body = await api.call("GET", "/api/tickets", params={"q": "tersumbat"})
    (hit,) = body["tickets"]
    match = hit["match"]
    assert [match["snippet"][a:b] for a, b in match["highlights"]] == ["tersumbat"]


async def test_relevance_order_ranks_the_best_match_first(env):
    svc, api, numbers = env
    (strong,) = await svc.ingestor.submit([Report(
        source="lapor", channel="web-form", external_id="many",
        text="Sampah, sampah, sampah di mana-mana", author=Author(handle="z"))])
    status, body = await api.call("GET", "/api/tickets",
                                  params={"q": "sampah", "sort": "relevance"})
    assert status == 200 and body["next_cursor"] is None
    assert [t["number"] for t in body["tickets"]] == [strong.ticket_number, numbers[2]]
    status, _ = await api.call("GET", "/api/tickets", params={"q": "x", "sort": "best"})
    assert status == 400


async def test_a_report_added_later_is_found_on_its_ticket(env):
    svc, api, numbers = env
    await svc.ingestor.submit([Report(
        source="tg", channel="telegram", external_id="later", ticket_ref=numbers[3],
        text="Sudah tiga hari menunggu e-KTP belum jadi", author=Author(handle="t1"))])
    assert await found(api, "menunggu") == [numbers[3]]


async def test_anything_people_type_is_answered(env):
    _, api, _ = env
    for q in ['"', "'", "*", "AND", "NOT", "a OR", "NEAR(", "col:val", "^jalan", "jalan*",
              '"unbalanced', "((", "-", "--x", "😀", "x" * 300, "\\", "%_%",
              "ADU-9999-000001", "null", "jalan:*", "!!", "<->", "a & b | !c"]:
        status, body = await api.call("GET", "/api/tickets", params={"q": q})
        assert status == 200, (q, body)


async def test_search_keeps_the_access_rules(env):
    svc, _, _ = env
    (sealed,) = await svc.ingestor.submit([Report(
        source="lapor", channel="web-form", external_id="wbs", confidential=True,
        text="Dugaan pungli di loket jalan tol", author=Author(handle="wb"))])
    agent = Api(svc.web_url, await token_for(svc, "ani", "agent"))
    assert sealed.ticket_number not in await found(agent, "pungli")
    boss = Api(svc.web_url, await token_for(svc, "root", "admin"))
    assert await found(boss, "pungli") == [sealed.ticket_number]


async def test_updated_since_narrows_to_recent_changes(env):
    svc, api, numbers = env
    status, body = await api.call("GET", "/api/tickets",
                                  params={"updated_since": "2999-01-01T00:00:00+00:00"})
    assert status == 200 and body["tickets"] == []
    status, body = await api.call("GET", "/api/tickets",
                                  params={"updated_since": "2000-01-01T00:00:00+00:00",
                                          "q": "jalan"})
    assert status == 200 and len(body["tickets"]) == 2
    status, _ = await api.call("GET", "/api/tickets", params={"updated_since": "yesterday"})
    assert status == 400


async def test_every_strategy_finds_the_same_page(env, monkeypatch):
    """Few or many matches, walk or drive: the same tickets in the same order."""
    svc, api, _ = env
    more = [Report(source="lapor", channel="web-form", external_id=f"m{i}",
                   text=f"Jalan berlubang nomor {i} {'dekat pasar' if i % 3 else ''}",
                   author=Author(handle=f"m{i}")) for i in range(12)]
    await svc.ingestor.submit(more)

    async def pages() -> list[list[str]]:
        out = []
        for q in ("jalan", "pasar", "jalan -pasar", "lampu or pasar"):
            status, body = await api.call("GET", "/api/tickets", params={"q": q, "limit": 4})
            assert status == 200
            seen = [t["number"] for t in body["tickets"]]
            cursor = body["next_cursor"]
            while cursor:
                _, body = await api.call("GET", "/api/tickets",
                                         params={"q": q, "limit": 4, "cursor": cursor})
                seen += [t["number"] for t in body["tickets"]]
                cursor = body["next_cursor"]
            out.append(seen)
        return out

    baseline = await pages()
    assert all(baseline) and len(baseline[0]) == 14
    monkeypatch.setattr(search, "DRIVE_LIMIT", {"sqlite": 0, "postgresql": 0})
    assert await pages() == baseline  # SQLite walks the queue
    monkeypatch.setattr(search, "WALK", 2)
    assert await pages() == baseline  # PostgreSQL walks a little, then drives
