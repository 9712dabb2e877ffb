"""The satisfaction survey: signed links that open one reporter's form only, a plain
HTML form that works without script, every answer kept and the latest counted."""

from __future__ import annotations

import re

import aiohttp
import pytest
from sqlalchemy import select

from aggregator.domain import Author, Report
from aggregator.intake.port import ConnectorContext
from aggregator.monitoring.feature import MonitoringFeature
from aggregator.monitoring.survey import SurveyLinks
from aggregator.runtime.logs import connector_logger
from storage.models import Reporter, SurveyAnswer, TicketEvent
from tests.core.helpers import Api, running, service_settings, token_for

KEY = b"k" * 32


def test_links_are_signed_and_expire():
    links = SurveyLinks(KEY, "https://aduan.example.go.id/", days=30)
    token = links.token("ADU-2026-000042", 7, today=20000)
    assert links.check(token, today=20000) == ("ADU-2026-000042", 7)
    assert links.check(token, today=20030) == ("ADU-2026-000042", 7)
    assert links.check(token, today=20031) is None  # expired
    number, rid, expires, sig = token.split(".")
    for forged in (f"{number}.8.{expires}.{sig}", f"{number}.{rid}.{int(expires) + 99}.{sig}",
                   f"ADU-2026-000043.{rid}.{expires}.{sig}", f"{number}.{rid}.{expires}.x",
                   "", "a.b.c", f"{number}.{rid}.{expires}.{sig}.x", "../../etc/passwd"):
        assert links.check(forged, today=20000) is None, forged
    assert SurveyLinks(b"z" * 32, "x").check(token, today=20000) is None
    assert links.url("ADU-2026-000042", 7).startswith(
        "https://aduan.example.go.id/survey/ADU-2026-000042.7.")


def form_fields(html: str) -> tuple[list[str], list[str]]:
    """(radio names, label targets) of the form."""
    radios = re.findall(r'<input type="radio" name="(\w+)" id="([\w-]+)"', html)
    labels = re.findall(r'<label for="([\w-]+)"', html)
    return sorted({n for n, _ in radios}), [i for _, i in radios if i not in labels]


async def test_form_flow_through_the_running_service(db_url, tmp_path):
    async with running(service_settings(db_url, tmp_path)) as svc:
        (res,) = await svc.ingestor.submit([Report(
            source="lapor", channel="web-form", external_id="e1", text="Jalan berlubang",
            author=Author(handle="0812", name="Sri"))])
        async with svc.sessions() as s:
            rid = (await s.execute(select(Reporter.id))).scalar_one()
        feature = next(f for f in svc.features if isinstance(f, MonitoringFeature))
        path = "/survey/" + feature.links.token(res.ticket_number, rid)
        url = svc.web_url + path
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as resp:  # not resolved yet
                assert resp.status == 409 and "setelah pengaduan selesai" in await resp.text()
            api = Api(svc.web_url, await token_for(svc, "ani", "supervisor"))
            await api.call("PATCH", f"/api/tickets/{res.ticket_number}",
                           json={"state": "resolved"})
            async with http.get(url) as resp:
                html = await resp.text()
                assert resp.status == 200
                assert "script" not in html.lower()
                assert resp.headers["Cache-Control"] == "no-store"
            names, unlabelled = form_fields(html)
            assert len(names) == 9 and unlabelled == []
            assert "Bagaimana kemudahan prosedur pelayanan?" in html
            async with http.post(url, data={"persyaratan": "9"}) as resp:
                assert resp.status == 422  # not an answer: nothing stored
            async with http.post(url, data={}) as resp:
                assert resp.status == 422 and "paling sedikit satu" in await resp.text()
            answers = {n: "4" for n in names}
            async with http.post(url, data={**answers, "comment": "Cepat, terima kasih"}) \
                    as resp:
                assert resp.status == 200 and "sudah kami terima" in await resp.text()
            async with http.post(url + "?lang=en", data={"waktu": "2"}) as resp:
                assert resp.status == 200 and "have been recorded" in await resp.text()
            async with http.get(url) as resp:  # the form shows the latest answers
                html = await resp.text()
                assert 'id="waktu-2" value="2" checked' in html
                assert 'id="sarana-4" value="4" checked' in html
            async with http.get(svc.web_url + path[:-3] + "abc") as resp:
                assert resp.status == 404 and "tidak berlaku" in await resp.text()
        async with svc.sessions() as s:
            rows = (await s.execute(select(SurveyAnswer.element, SurveyAnswer.score,
                                           SurveyAnswer.channel, SurveyAnswer.respondent)
                                    .order_by(SurveyAnswer.id))).all()
            events = (await s.execute(select(TicketEvent.type, TicketEvent.data)
                                      .where(TicketEvent.type.like("survey%"))
                                      .order_by(TicketEvent.id))).all()
        assert len(rows) == 10  # nine, then one more: the first waktu is kept too
        assert {r.channel for r in rows} == {"web-form"} and {r.respondent for r in rows} == {
            f"r:{rid}"}
        assert [r.score for r in rows if r.element == "waktu"] == [4, 2]
        assert [t for t, _ in events] == ["survey", "survey_comment", "survey"]
        assert events[0][1]["elements"]["persyaratan"] == 4
        assert events[1][1]["text"] == "Cepat, terima kasih"
        _, stats = await api.call("GET", "/api/stats")
        waktu = next(e for e in stats["satisfaction"]["elements"] if e["element"] == "waktu")
        assert waktu["nrr"] == 2.0 and stats["satisfaction"]["respondents"] == 1


async def test_port_records_any_element_for_the_reporters_own_finished_ticket(
        db_url, tmp_path):
    async with running(service_settings(db_url, tmp_path)) as svc:
        (mine,) = await svc.ingestor.submit([Report(
            source="tg", channel="telegram", external_id="1:1", text="Lampu mati",
            author=Author(handle="1001"))])
        (other,) = await svc.ingestor.submit([Report(
            source="tg", channel="telegram", external_id="2:1", text="Sampah menumpuk",
            author=Author(handle="1002"))])
        api = Api(svc.web_url, await token_for(svc, "ani", "supervisor"))
        for t in (mine, other):
            await api.call("PATCH", f"/api/tickets/{t.ticket_number}",
                           json={"state": "resolved"})
        port = ConnectorContext(name="tg", settings=svc.settings, ingestor=svc.ingestor,
                                sessions=svc.sessions, log=connector_logger("tg"))
        view = await port.record_survey_answer("telegram", "1001", mine.ticket_number,
                                               "perilaku", 3)
        assert view is not None and view.number == mine.ticket_number
        assert await port.record_survey_answer("telegram", "1001", other.ticket_number,
                                               "perilaku", 1) is None
        with pytest.raises(ValueError):
            await port.record_survey_answer("telegram", "1001", mine.ticket_number,
                                            "perilaku", 7)
        async with svc.sessions() as s:
            rows = (await s.execute(select(SurveyAnswer.element, SurveyAnswer.score))).all()
        assert [tuple(r) for r in rows] == [("perilaku", 3)]
