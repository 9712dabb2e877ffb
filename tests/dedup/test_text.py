"""Normalisation and verdicts on single pairs (pure; no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aggregator.config import DedupSettings
from aggregator.dedup.features import Place, extract
from aggregator.dedup.normalize import tokenize
from aggregator.dedup.verdict import compare
from aggregator.domain import Author

CFG = DedupSettings()


def words(text: str) -> list[str]:
    return [t.text for t in tokenize(text)]


def same(a: str, b: str, meta_a: dict | None = None, meta_b: dict | None = None) -> bool:
    return compare(extract(a, meta=meta_a), extract(b, meta=meta_b), CFG).same


def test_informal_indonesian_is_normalised():
    assert words("@pemkot antrian lamaaa bgt yg udh 3 jam, gak dpt nomor https://t.co/x "
                 "#RSUDSoetomo 😡") == [
        "antri", "lama", "banget", "yang", "sudah", "3", "jam", "tidak", "dapat", "nomor",
        "rs", "soetomo"]
    assert words("org2 nunggu berjam-jam") == ["orang", "tunggu", "berjam"]
    assert words("air ga ngalir") == ["air", "rusak"]  # slang inside a phrase
    assert words("Rumah Sakit Umum") == ["rs", "umum"]


def test_places_and_names():
    doc = extract("Antrean di RSUD Dr. Soetomo Surabaya kacau, petugas di Kecamatan "
                  "Ciputat juga.")
    assert Place("rs", ("sutomo", "surabaya")) in doc.places  # old spelling folded
    assert Place("kecamatan", ("ciputat",)) in doc.places
    lower = extract("antrian rsud soetomo kacau bgt")
    assert Place("rs", ("sutomo",)) in lower.places
    # A lower-case name made only of ordinary words cannot be told from the sentence.
    assert not extract("jalan berlubang parah").places


def test_paraphrase_tweet_and_letter_are_one_problem():
    tweet = "mesin antrian rsud soetomo mati lg, udh 4 jam nunggu blm dipanggil2 🙄"
    letter = ("Yth. Bapak/Ibu,\nSejak pagi mesin antrean elektronik di RSUD Dr. Soetomo "
              "Surabaya tidak berfungsi sehingga pasien tidak mendapat nomor antrean dan "
              "menunggu berjam-jam.\nHormat saya,\nDewi Kusumawati")
    assert same(tweet, letter)
    english = ("The queue machine at RSUD Dr Soetomo hospital is broken, patients waiting "
               "for hours with no queue numbers")
    assert same(english, letter)


def test_hard_negatives_stay_apart():
    # Same hospital, different problem.
    assert not same("Mesin antrian RSUD Dr. Soetomo rusak, pasien menumpuk di lobi",
                    "Toilet RSUD Dr. Soetomo kotor dan bau, air tidak mengalir")
    # Same problem, different hospital (the names share a word).
    assert not same("Pendaftaran di RSUD Pasar Minggu lama sekali, loket cuma dua",
                    "Pendaftaran di RSUD Pasar Rebo lama sekali, loket cuma dua")
    # Same problem, different area, lower case.
    assert not same("listrik di ciputat mati lagi dari pagi",
                    "listrik di pamulang mati lagi dari pagi")
    # Same text, two people's own cases.
    assert not same("Kartu BPJS saya no 0001234567891 nonaktif padahal iuran sudah dibayar",
                    "Kartu BPJS saya no 0009876543210 nonaktif padahal iuran sudah dibayar")
    # Far apart on the map.
    flood = "Banjir setinggi lutut merendam jalan"
    assert not same(flood, flood, {"lat": -6.2, "lon": 106.8}, {"lat": -7.25, "lon": 112.75})
    assert same(flood, flood, {"lat": -6.2, "lon": 106.8}, {"lat": -6.201, "lon": 106.8})


def test_links_lower_the_bar():
    now = datetime(2026, 3, 1, tzinfo=UTC)
    flood_a = extract("Perumahan Villa Nusa Indah banjir setinggi dada, butuh perahu karet",
                      at=now)
    flood_b = extract("Kami masih terjebak di Perumahan Villa Nusa Indah, air masuk rumah, "
                      "banjir makin tinggi", at=now + timedelta(hours=3))
    assert compare(flood_b, flood_a, CFG).same  # one incident at one place
    sender = Author(handle="budi@warga.id", email="budi@warga.id")
    a = extract("Lampu jalan depan rumah saya mati sudah seminggu", author=sender)
    b = extract("Pak, lampu penerangan jalan di depan rumah masih padam", author=sender)
    verdict = compare(b, a, CFG)
    assert verdict.same


def test_one_kind_of_incident_told_differently():
    now = datetime(2026, 3, 1, 18, tzinfo=UTC)
    formal = extract("Sejak pukul 17.00 terjadi pemadaman listrik di RSUD Pasar Minggu, "
                     "pasien ruang rawat inap kepanasan.", at=now)
    slang = extract("RSUD Pasar Minggu mati lampu lg, gelap semua", at=now + timedelta(hours=1))
    verdict = compare(slang, formal, CFG)
    assert verdict.same
    # The same kind of incident at another hospital of the same city is another one.
    other = extract("RSUD Pasar Rebo mati lampu juga dari sore", at=now + timedelta(hours=1))
    assert not compare(other, formal, CFG).same
    # One service named, no place: a burst of "KRL mogok" is one incident ...
    krl_a = extract("KRL mogok lagi, udah 30 menit kereta berhenti", at=now)
    krl_b = extract("krl gangguan ya? kereta ga jalan2 dr tadi", at=now + timedelta(hours=1))
    assert compare(krl_b, krl_a, CFG).same
    # ... but two reports naming different unknown places are not folded on topic alone.
    krl_c = extract("KRL mogok di Kelapaguntur, kereta berhenti", at=now)
    krl_d = extract("KRL mogok di Sirnajaya, kereta berhenti", at=now + timedelta(hours=1))
    assert not compare(krl_d, krl_c, CFG).same


def test_recurrence_is_a_new_incident():
    """Time is the report's own: the same problem at the same place weeks later."""
    now = datetime(2026, 1, 15, 8, tzinfo=UTC)
    text = "Blanko KTP di Disdukcapil Kota Semarang habis, warga disuruh pulang"
    first = extract(text, at=now)
    assert compare(extract(text, at=now + timedelta(hours=30)), first, CFG).same
    verdict = compare(extract(text, at=now + timedelta(days=35)), first, CFG)
    assert not verdict.same and verdict.detail["apart"] == "recurrence"
    # Kota and Kabupaten of one name are two offices.
    kab = extract("Blanko KTP di Disdukcapil Kabupaten Semarang habis, warga disuruh pulang",
                  at=now)
    assert not compare(kab, first, CFG).same


def test_place_names_in_other_forms():
    """A rank or a short form in a street name, old spelling: still the same place."""
    a = extract("Banjir sepinggang di Jl. Brigjen Katamso, warga mengungsi")
    b = extract("jln katamso banjir lagi, air masuk rumah")
    assert compare(b, a, CFG).same


def test_letter_wrapping_is_not_the_complaint():
    """Identity lines, a quoted reply, the signature and a disclaimer are cut: the
    writer's own address must not look like the place of the problem."""
    letter = ("Kepada Yth.\nDirektur RSUD Pasar Minggu\n\nDengan hormat,\n"
              "Nama : Budi Santoso\nNIK : 3175061204670003\n"
              "Alamat : Jl. Kemang Raya No. 5, Jakarta Selatan\nNo. HP : 0812-1234-5678\n\n"
              "Mesin antrean pendaftaran rusak sejak pagi, pasien menumpuk di lobi.\n\n"
              "Hormat saya,\nBudi Santoso\nJl. Kemang Raya No. 5\n\n--\n"
              "Dikirim dari perangkat seluler saya.\n> Pada hari Senin ada yang menulis:\n"
              "> antrean di Puskesmas Cilandak juga rusak")
    doc = extract(letter)
    assert Place("rs", ("pasar", "minggu")) in doc.places
    assert not any(p.kind == "jalan" or "kemang" in p.name or "cilandak" in p.name
                   for p in doc.places)
    assert not doc.ids and "budi" not in doc.names and "kemang" not in doc.names
    tweet = extract("mesin antrean RSUD Pasar Minggu rusak, pasien numpuk di lobi")
    assert compare(tweet, doc, CFG).same


def test_quarters_of_one_name_and_summaries_are_apart():
    now = datetime(2026, 3, 2, 8, tzinfo=UTC)
    south = extract("KUA Cimahi Selatan minta 1 juta untuk nikah di kantor", at=now)
    centre = extract("KUA Cimahi Tengah minta 1 juta untuk nikah di kantor",
                     at=now + timedelta(hours=2))
    assert not compare(centre, south, CFG).same
    # A summary of outages in several towns names the town of one, and is not it.
    one = extract("Listrik padam di Kota Ambon sejak sore, PLN belum ada info", at=now)
    summary = extract("Rangkuman: listrik padam di Kota Medan, Kota Jayapura dan Kota Ambon "
                      "hari ini, PLN sebut gangguan pembangkit", at=now + timedelta(hours=3))
    assert not compare(summary, one, CFG).same
    # A hashtag run together still says what happened where.
    assert words("#medanpadam lagi") == ["medan", "rusak", "lagi"]


def test_a_power_cut_over_one_town_told_from_its_districts():
    now = datetime(2026, 6, 4, 19, tzinfo=UTC)
    town = extract("Listrik padam di seluruh Kota Pekanbaru sejak magrib, PLN belum "
                   "memberi kabar", at=now)
    district = extract("mati lampu di Rumbai dari tadi, kata teman se pekanbaru gelap",
                       at=now + timedelta(hours=1))
    verdict = compare(district, town, CFG)
    assert verdict.same
    # Two neighbourhoods named as such are two floods, one town or not ...
    a = extract("Banjir setinggi lutut di Kelurahan Sukamulya, Kota Pekanbaru", at=now)
    b = extract("Banjir di Kelurahan Tangkerang Pekanbaru, rumah warga terendam",
                at=now + timedelta(hours=1))
    assert not compare(b, a, CFG).same
    # ... and a day later, or without the town, the districts stay apart.
    later = extract("mati lampu di Rumbai dari tadi, kata teman se pekanbaru gelap",
                    at=now + timedelta(hours=30))
    assert not compare(later, town, CFG).same
    assert not same("Listrik padam di Rumbai sejak sore", "Listrik padam di Tampan sejak sore")


def test_the_writers_own_name_is_not_a_name_of_the_incident():
    """Two writers introduce themselves in their letters about one outage: their
    names are not evidence of two incidents; a name the complaint is about stays."""
    a = extract("Dengan hormat,\nSaya Anastasia Widyaningrum, dosen, melaporkan bahwa "
                "aplikasi SIAKAD Universitas Mataram tidak bisa login sejak pagi.")
    b = extract("Saya yang bertanda tangan di bawah ini, Ahmad Fauzan Saputra, "
                "mahasiswa, menyampaikan SIAKAD Universitas Mataram error tidak bisa "
                "login sejak pagi hari ini.")
    c = extract("Penelepon a.n. Made Suparta melaporkan SIAKAD Universitas Mataram error, "
                "tidak bisa login sejak pagi.")
    for doc in (a, b, c):
        assert not doc.names & {"anastasia", "widyaningrum", "fauzan", "saputra",
                                "made", "suparta"}
    assert compare(a, b, CFG).same and compare(c, a, CFG).same
    subject = extract("Petugas loket Pak Suparman membentak warga, saya Budi Warga Tebet")
    assert {"suparman", "tebet"} <= subject.names


def test_a_town_may_contain_the_place_another_report_names():
    """"Jakarta" and "Cipto Mangunkusumo" (or "Klender"): the town may hold the place,
    so the names say nothing; two towns, or two neighbourhoods, are two incidents."""
    told = "Mesin antrean rusak, pasien BPJS {} numpuk sejak subuh"
    assert same("Mesin antrean RS Cipto Mangunkusumo rusak lagi, pasien BPJS numpuk "
                "sejak subuh", told.format("Jakarta"))
    assert same("Mesin antrean Klender rusak lagi, pasien BPJS numpuk sejak subuh",
                told.format("Jakarta"))
    assert not same("Mesin antrean Klender rusak lagi, pasien BPJS numpuk sejak subuh",
                    told.format("Cawang"))
    assert not same("Mesin antrean Surabaya rusak lagi, pasien BPJS numpuk sejak subuh",
                    told.format("Jakarta"))
    # "Kota Bangun" is a ward: "bangun" is common as a word, not as a town.
    assert not same("Pembagian beras bansos di kantor lurah TMH kacau, ibu2 lansia "
                    "pingsan", "Di kantor lurah Kota Bangun pembagian beras bansos kacau, "
                    "lansia pingsan")


def test_a_writer_who_says_theirs_is_another_case_stays_apart():
    """"bukan yg viral": the writer knows the incident everyone speaks of and says
    theirs is not it; the same writer's next report still joins theirs."""
    viral = extract("Pabrik sepatu PT Sinar Mulia di Cikupa Mas digembok pagi ini, gaji "
                    "buruh belum dibayar")
    author = Author(handle="budi@example.org", email="budi@example.org")
    other = extract("min sy kerja di pt mega kemasan di cikupa mas jg (bukan yg viral), "
                    "pabrik digembok, gaji kami belum dibayar", author=author)
    assert not compare(other, viral, CFG).same
    again = extract("pabrik pt mega kemasan cikupa mas masih digembok, gaji belum dibayar",
                    author=author)
    assert compare(again, other, CFG).same


def test_a_town_may_hold_the_village_another_report_is_in():
    """"di Brebes" and "di Kluwut": the regency may hold the village, so the two
    places do not disagree; two towns, or two villages, do."""
    told = "Gas elpiji 3 kg langka di {}, warga antre dari subuh di pangkalan"
    assert same(told.format("Brebes"), told.format("Kluwut"))
    assert not same(told.format("Brebes"), told.format("Cirebon"))
    assert not same(told.format("Kluwut"), told.format("Bulakamba"))


def test_one_place_agreeing_is_not_undone_by_another_the_other_report_omits():
    """"di Klang" and "di Klang, asal Kec. Sakra": the writer's home village is more
    than the other says, not another place. A town both name ("dari Bandung") does
    not pin one place down, and two facilities of one kind still differ."""
    assert same("Puluhan pekerja migran di Klang belum digaji 4 bulan, paspor ditahan "
                "majikan",
                "Adik saya asal Kec. Sakra kerja di Klang belum digaji 4 bulan, paspor "
                "ditahan majikan")
    assert not same("Paket dari Bandung ke Pontianak hilang, status dalam perjalanan 3 "
                    "minggu", "Paket dari Bandung ke Makassar hilang, status dalam "
                    "perjalanan 3 minggu")
    assert not same("Antrean RSUD Pasar Rebo di Klender rusak mesinnya",
                    "Antrean RSUD Pasar Minggu di Klender rusak mesinnya")


def test_an_abbreviation_only_one_side_uses_is_no_other_name():
    """"PMI" (a migrant worker) against "Lombok", "Klang": the abbreviation says what,
    and its absence from the other report says nothing; two different ones (SKCK and
    BKN's SSCASN: two systems) still tell two incidents apart."""
    assert same("Ratusan PMI belum digaji 4 bulan, paspor ditahan majikan, tolong "
                "pemerintah", "Pekerja migran dari Lombok belum digaji 4 bulan, paspor "
                "ditahan majikan di Klang")
    assert not same("Situs pendaftaran SKCK online error, gagal memuat formulir sejak pagi",
                    "Situs pendaftaran SSCASN BKN error, gagal memuat formulir sejak pagi")


def test_a_hashtag_of_an_acronym_and_a_word():
    assert words("#PDNdown sejak pagi")[:2] == ["pdn", "rusak"]  # "down": broken
    assert words("#BaliBlackout")[:1] == ["bali"]
