"""Words of the figures pages, the monthly report and the survey form, in Indonesian
(default) and English. `t(lang, key)` falls back to Indonesian."""

from __future__ import annotations

LANGUAGES = ("id", "en")

# The survey's nine questions (PermenPANRB 14/2017's sample questionnaire, shortened)
# and each question's four answers, worst (1) to best (4).
QUESTIONS: dict[str, dict[str, tuple[str, str, tuple[str, str, str, str]]]] = {
    "id": {
        "persyaratan": ("Persyaratan", "Bagaimana kesesuaian persyaratan pelayanan dengan "
                        "jenis pelayanannya?",
                        ("Tidak sesuai", "Kurang sesuai", "Sesuai", "Sangat sesuai")),
        "prosedur": ("Sistem, mekanisme dan prosedur", "Bagaimana kemudahan prosedur "
                     "pelayanan?", ("Tidak mudah", "Kurang mudah", "Mudah", "Sangat mudah")),
        "waktu": ("Waktu penyelesaian", "Bagaimana kecepatan waktu dalam memberikan "
                  "pelayanan?", ("Tidak cepat", "Kurang cepat", "Cepat", "Sangat cepat")),
        "biaya": ("Biaya/tarif", "Bagaimana kewajaran biaya/tarif dalam pelayanan?",
                  ("Sangat mahal", "Cukup mahal", "Murah", "Gratis")),
        "produk": ("Produk spesifikasi jenis pelayanan", "Bagaimana kesesuaian hasil "
                   "pelayanan dengan yang tercantum dalam standar pelayanan?",
                   ("Tidak sesuai", "Kurang sesuai", "Sesuai", "Sangat sesuai")),
        "kompetensi": ("Kompetensi pelaksana", "Bagaimana kompetensi/kemampuan petugas "
                       "dalam pelayanan?",
                       ("Tidak kompeten", "Kurang kompeten", "Kompeten", "Sangat kompeten")),
        "perilaku": ("Perilaku pelaksana", "Bagaimana perilaku petugas dalam pelayanan "
                     "terkait kesopanan dan keramahan?",
                     ("Tidak sopan dan ramah", "Kurang sopan dan ramah", "Sopan dan ramah",
                      "Sangat sopan dan ramah")),
        "pengaduan": ("Penanganan pengaduan, saran dan masukan", "Bagaimana penanganan "
                      "pengaduan pengguna layanan?",
                      ("Tidak ada", "Ada tetapi tidak berfungsi", "Berfungsi kurang maksimal",
                       "Dikelola dengan baik")),
        "sarana": ("Sarana dan prasarana", "Bagaimana kualitas sarana dan prasarana?",
                   ("Buruk", "Cukup", "Baik", "Sangat baik")),
    },
    "en": {
        "persyaratan": ("Requirements", "How well did the requirements fit the service?",
                        ("Not at all", "Poorly", "Well", "Very well")),
        "prosedur": ("Systems, mechanisms and procedures", "How easy was the procedure?",
                     ("Not easy", "Not very easy", "Easy", "Very easy")),
        "waktu": ("Time to complete", "How quickly was the service delivered?",
                  ("Not quickly", "Not very quickly", "Quickly", "Very quickly")),
        "biaya": ("Cost/fees", "How fair was the cost of the service?",
                  ("Very expensive", "Rather expensive", "Cheap", "Free")),
        "produk": ("Service product as specified", "How well did the result match the "
                   "service standard?", ("Not at all", "Poorly", "Well", "Very well")),
        "kompetensi": ("Staff competence", "How competent were the staff?",
                       ("Not competent", "Not very competent", "Competent",
                        "Very competent")),
        "perilaku": ("Staff conduct", "How polite and friendly were the staff?",
                     ("Impolite", "Not very polite", "Polite and friendly",
                      "Very polite and friendly")),
        "pengaduan": ("Handling of complaints, suggestions and feedback", "How were "
                      "complaints handled?", ("Not at all", "There, but not working",
                                              "Working, not fully", "Well managed")),
        "sarana": ("Facilities and infrastructure", "How good were the facilities?",
                   ("Poor", "Fair", "Good", "Very good")),
    },
}

TEXTS: dict[str, dict[str, str]] = {
    "id": {
        "title": "Pemantauan dan evaluasi pengaduan",
        "report_title": "Laporan bulanan pengelolaan pengaduan",
        "period": "Periode", "unit": "Unit", "channel": "Kanal", "all": "Semua",
        "language": "Bahasa", "show": "Tampilkan", "from": "Dari", "to": "Sampai",
        "generated": "Dibuat", "timezone": "Zona waktu",
        "reports": "Laporan masuk", "tickets": "Tiket baru", "open_now": "Tiket terbuka",
        "per_day": "Laporan dan tiket per hari", "per_week": "Laporan dan tiket per minggu",
        "by_channel": "Tiket menurut kanal", "by_kind": "Tiket menurut jenis",
        "first_response": "Tanggapan pertama", "resolution": "Penyelesaian",
        "median": "Median", "p90": "Persentil 90", "count": "Jumlah",
        "hours": "jam", "working_hours": "jam kerja",
        "sla": "Kepatuhan SLA", "sla_met": "Tepat waktu", "sla_breached": "Terlambat",
        "sla_pending": "Belum jatuh tempo", "share": "Persentase",
        "backlog": "Tiket terbuka menurut umur", "age": "Umur",
        "escalations": "Eskalasi dan viral", "escalated": "Eskalasi",
        "viral_episodes": "Episode viral", "tickets_affected": "tiket",
        "recurring": "Masalah berulang", "clusters": "Klaster laporan terbesar",
        "reopened": "Dibuka kembali", "places": "Lokasi terbanyak",
        "satisfaction": "Indeks Kepuasan Masyarakat (IKM)", "ikm": "IKM",
        "grade": "Mutu pelayanan", "performance": "Kinerja unit",
        "element": "Unsur pelayanan", "nrr": "NRR", "nrr_weighted": "NRR tertimbang",
        "respondents": "Responden", "population": "Populasi dilayani",
        "required": "Sampel minimum", "sample_small":
            "Sampel terlalu kecil: {n} responden, minimal {need} untuk populasi {pop} "
            "(tabel Krejcie-Morgan); nilai IKM belum dapat dijadikan acuan.",
        "no_answers": "Belum ada jawaban survei pada periode ini.",
        "overall_rating": "Penilaian singkat (1-4)", "mean": "Rata-rata",
        "units": "Per unit", "none": "(tanpa unit)", "number": "Nomor",
        "subject": "Perihal", "exports": "Unduh", "monthly": "Laporan bulanan",
        "figures": "angka",
        "nothing": "Tidak ada data.", "method": "Metode",
        "method_text": "Waktu dihitung dari tiket dibuat; {clock}. SLA: tiket yang "
                       "diterima pada periode ini, dibandingkan dengan batas waktunya. IKM "
                       "menurut PermenPANRB 14/2017: rata-rata sembilan unsur (bobot 0,111) "
                       "x 25.",
        "clock_working": "dalam jam kerja menurut kalender SLA",
        "clock_all": "setiap jam dihitung (layanan 24 jam)",
        "signature": "Mengetahui, Kepala Unit",
        # survey form
        "survey_title": "Survei kepuasan masyarakat",
        "survey_intro": "Terima kasih telah menyampaikan pengaduan {number}. Mohon "
                        "penilaian Anda atas pelayanan kami; satu halaman, sekitar dua menit.",
        "survey_comment": "Saran dan masukan (boleh dikosongkan)",
        "survey_send": "Kirim penilaian",
        "survey_thanks": "Terima kasih, penilaian Anda untuk {number} sudah kami terima.",
        "survey_again": "Anda dapat mengubah penilaian melalui tautan yang sama; yang "
                        "terakhir yang dihitung.",
        "survey_invalid": "Tautan survei ini tidak berlaku atau sudah kedaluwarsa.",
        "survey_not_finished": "Survei dapat diisi setelah pengaduan selesai ditangani.",
        "survey_missing": "Mohon pilih paling sedikit satu jawaban.",
    },
    "en": {
        "title": "Complaint monitoring and evaluation",
        "report_title": "Monthly complaint handling report",
        "period": "Period", "unit": "Unit", "channel": "Channel", "all": "All",
        "language": "Language", "show": "Show", "from": "From", "to": "To",
        "generated": "Generated", "timezone": "Time zone",
        "reports": "Reports received", "tickets": "New tickets", "open_now": "Open tickets",
        "per_day": "Reports and tickets per day", "per_week": "Reports and tickets per week",
        "by_channel": "Tickets by channel", "by_kind": "Tickets by kind",
        "first_response": "First response", "resolution": "Resolution",
        "median": "Median", "p90": "90th percentile", "count": "Count",
        "hours": "hours", "working_hours": "working hours",
        "sla": "SLA compliance", "sla_met": "On time", "sla_breached": "Late",
        "sla_pending": "Not yet due", "share": "Share",
        "backlog": "Open tickets by age", "age": "Age",
        "escalations": "Escalations and viral episodes", "escalated": "Escalations",
        "viral_episodes": "Viral episodes", "tickets_affected": "tickets",
        "recurring": "Recurring problems", "clusters": "Largest report clusters",
        "reopened": "Reopened", "places": "Most named places",
        "satisfaction": "Community Satisfaction Index (IKM)", "ikm": "IKM",
        "grade": "Service quality", "performance": "Unit performance",
        "element": "Service element", "nrr": "NRR", "nrr_weighted": "Weighted NRR",
        "respondents": "Respondents", "population": "Population served",
        "required": "Minimum sample", "sample_small":
            "Sample too small: {n} respondents, at least {need} needed for a population "
            "of {pop} (Krejcie-Morgan table); the IKM cannot be relied on yet.",
        "no_answers": "No survey answers in this period.",
        "overall_rating": "Quick rating (1-4)", "mean": "Mean",
        "units": "By unit", "none": "(no unit)", "number": "Number",
        "subject": "Subject", "exports": "Download", "monthly": "Monthly report",
        "figures": "figures",
        "nothing": "No data.", "method": "Method",
        "method_text": "Times run from when the ticket was opened; {clock}. SLA: tickets "
                       "received in the period against their deadlines. IKM as in "
                       "PermenPANRB 14/2017: the mean of the nine elements (weight 0.111) "
                       "x 25.",
        "clock_working": "in working hours of the SLA calendar",
        "clock_all": "every hour counts (a 24-hour service)",
        "signature": "Acknowledged, Head of Unit",
        "survey_title": "Community satisfaction survey",
        "survey_intro": "Thank you for your complaint {number}. Please rate our service; "
                        "one page, about two minutes.",
        "survey_comment": "Suggestions and feedback (optional)",
        "survey_send": "Send my answers",
        "survey_thanks": "Thank you, your answers on {number} have been recorded.",
        "survey_again": "You may change your answers through the same link; the latest "
                        "count.",
        "survey_invalid": "This survey link is not valid or has expired.",
        "survey_not_finished": "The survey opens once the complaint has been resolved.",
        "survey_missing": "Please choose at least one answer.",
    },
}

AGE_BUCKETS: tuple[tuple[float, str, str], ...] = (
    (1, "< 1 hari", "< 1 day"), (3, "1-3 hari", "1-3 days"), (7, "3-7 hari", "3-7 days"),
    (14, "7-14 hari", "7-14 days"), (30, "14-30 hari", "14-30 days"),
    (float("inf"), "> 30 hari", "> 30 days"),
)


def lang_of(value: str | None, default: str = "id") -> str:
    return value if value in LANGUAGES else default


def t(lang: str, key: str, **kw: object) -> str:
    text = TEXTS.get(lang, TEXTS["id"]).get(key) or TEXTS["id"][key]
    return text.format(**kw) if kw else text


def element_name(lang: str, key: str) -> str:
    table = QUESTIONS.get(lang, QUESTIONS["id"])
    return table[key][0] if key in table else key
