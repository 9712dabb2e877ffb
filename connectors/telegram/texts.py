"""Everything the bot says, in Indonesian (default) and English.

Kept apart from the logic so wording can be reviewed (and translated) in one place.
Placeholders use `str.format` names; `say()` falls back to Indonesian for a missing key.
"""

from __future__ import annotations

LANGUAGES = ("id", "en")

STATES: dict[str, dict[str, str]] = {
    "id": {
        "new": "Diterima",
        "in_progress": "Sedang diproses",
        "waiting": "Menunggu keterangan dari Anda",
        "resolved": "Selesai",
        "closed": "Ditutup",
    },
    "en": {
        "new": "Received",
        "in_progress": "In progress",
        "waiting": "Waiting for your reply",
        "resolved": "Resolved",
        "closed": "Closed",
    },
}

# Indeks Kepuasan Masyarakat (IKM) answer scale, 1..4.
IKM: dict[str, dict[int, str]] = {
    "id": {1: "Tidak baik", 2: "Kurang baik", 3: "Baik", 4: "Sangat baik"},
    "en": {1: "Poor", 2: "Fair", 3: "Good", 4: "Very good"},
}

_HELP_ID = (
    "Tulis aduan Anda dalam satu pesan; boleh disertai foto, dokumen, pesan suara "
    "atau lokasi. Kami langsung membalas dengan nomor tiket.\n\n"
    "/status - daftar aduan Anda\n"
    "/status NOMOR - rincian satu aduan\n"
    "/baru TEKS - aduan baru (bukan tambahan aduan sebelumnya)\n"
    "/lang en - English\n"
    "/help - bantuan"
)
_HELP_EN = (
    "Write your complaint in one message; you may add a photo, a document, a voice "
    "note or a location. We answer at once with a ticket number.\n\n"
    "/status - your complaints\n"
    "/status NUMBER - one complaint in detail\n"
    "/new TEXT - a new complaint (not an addition to the last one)\n"
    "/lang id - Bahasa Indonesia\n"
    "/help - this help"
)

TEXTS: dict[str, dict[str, str]] = {
    "id": {
        "start": "Halo {name}! Ini layanan pengaduan resmi{agency}.\n\n" + _HELP_ID,
        "help": _HELP_ID,
        "ack_new": (
            "Terima kasih, aduan Anda sudah kami terima.\nNomor tiket: {number}\n\n"
            "Petugas akan menindaklanjuti dan membalas di sini. "
            "Cek perkembangannya dengan /status {number}"
        ),
        "ack_added": (
            "Pesan Anda sudah ditambahkan ke tiket {number}. "
            "Cek perkembangannya dengan /status {number}\n\n"
            "Jika ini aduan lain, kirim /baru diikuti isi aduannya."
        ),
        "ack_joined": (
            "Terima kasih, aduan Anda sudah kami terima dan digabungkan dengan aduan serupa "
            "yang sedang ditangani.\nNomor tiket: {number}\n\n"
            "Cek perkembangannya dengan /status {number}"
        ),
        "new_usage": "Tulis /baru diikuti isi aduan Anda, misalnya: /baru Jalan rusak di ...",
        "rate_limited": (
            "Mohon maaf, Anda mengirim terlalu banyak pesan dalam waktu singkat. "
            "Pesan yang terkirim dalam {seconds} detik ke depan tidak kami catat; "
            "silakan kirim kembali setelahnya."
        ),
        "choose": (
            "Anda punya beberapa aduan yang masih terbuka. Pesan ini tentang aduan yang mana?"
        ),
        "choose_new": "Aduan baru",
        "choice_gone": "Pilihan ini sudah tidak berlaku.",
        "choice_done": "Dicatat pada tiket {number}.",
        "status_none": "Anda belum memiliki aduan. Silakan tulis aduan Anda kapan saja.",
        "status_list": "Aduan Anda:",
        "status_more": "(menampilkan {shown} aduan terbaru)",
        "status_not_found": "Tiket {number} tidak ditemukan di antara aduan Anda.",
        "status_one": "Tiket {number}\nStatus: {state}\nDiterima: {created}\nPerihal: {title}",
        "status_rating": "Penilaian Anda: {score} ({label})",
        "reply": "Balasan petugas untuk tiket {number}:\n\n{text}\n\n- {staff}",
        "changed": "Status tiket {number}: {state}.",
        "changed_waiting": "Petugas membutuhkan keterangan tambahan; silakan balas pesan ini.",
        "changed_resolved": "Aduan Anda telah diselesaikan.",
        "changed_reopened": "Aduan Anda kembali diproses.",
        "survey_ask": "Bagaimana penilaian Anda atas penanganan aduan ini?",
        "survey_form": "Survei lengkap (sembilan unsur pelayanan, satu halaman): {url}",
        "survey_thanks": "Terima kasih atas penilaian Anda: {label}.",
        "survey_not_open": "Penilaian hanya bisa diberikan untuk aduan Anda yang sudah selesai.",
        "survey_comment": (
            "Jika berkenan, balas pesan ini dengan komentar atau saran Anda untuk tiket {number}."
        ),
        "comment_thanks": "Terima kasih, komentar Anda sudah kami catat.",
        "lang_set": "Bahasa diatur ke Bahasa Indonesia.",
        "lang_usage": "Gunakan /lang id (Bahasa Indonesia) atau /lang en (English).",
        "unsupported": (
            "Maaf, jenis pesan ini belum bisa kami terima. Kirim teks, foto, dokumen, "
            "pesan suara atau lokasi."
        ),
        "unknown_command": "Perintah tidak dikenal.\n\n" + _HELP_ID,
        "placeholder_photo": "[foto]",
        "placeholder_document": "[dokumen {name}]",
        "placeholder_voice": "[pesan suara]",
        "placeholder_audio": "[audio]",
        "placeholder_video": "[video]",
        "placeholder_location": "[lokasi {lat}, {lon}]",
    },
    "en": {
        "start": "Hello {name}! This is the official complaint service{agency}.\n\n" + _HELP_EN,
        "help": _HELP_EN,
        "ack_new": (
            "Thank you, we have received your complaint.\nTicket number: {number}\n\n"
            "Our staff will follow up and answer here. "
            "Check its progress with /status {number}"
        ),
        "ack_added": (
            "Your message was added to ticket {number}. "
            "Check its progress with /status {number}\n\n"
            "If this is a different complaint, send /new followed by its text."
        ),
        "ack_joined": (
            "Thank you, we have received your complaint and joined it to a similar one "
            "that is already being handled.\nTicket number: {number}\n\n"
            "Check its progress with /status {number}"
        ),
        "new_usage": "Write /new followed by your complaint, e.g.: /new The road at ... is broken",
        "rate_limited": (
            "Sorry, you are sending too many messages too quickly. Messages sent in the "
            "next {seconds} seconds are not recorded; please send them again afterwards."
        ),
        "choose": "You have several open complaints. Which one is this message about?",
        "choose_new": "New complaint",
        "choice_gone": "This choice is no longer available.",
        "choice_done": "Recorded on ticket {number}.",
        "status_none": "You have no complaints yet. Write to us any time.",
        "status_list": "Your complaints:",
        "status_more": "(showing the {shown} most recent)",
        "status_not_found": "Ticket {number} was not found among your complaints.",
        "status_one": "Ticket {number}\nStatus: {state}\nReceived: {created}\nSubject: {title}",
        "status_rating": "Your rating: {score} ({label})",
        "reply": "Staff reply on ticket {number}:\n\n{text}\n\n- {staff}",
        "changed": "Ticket {number} is now: {state}.",
        "changed_waiting": "Our staff need more information; please answer this message.",
        "changed_resolved": "Your complaint has been resolved.",
        "changed_reopened": "Your complaint is being handled again.",
        "survey_ask": "How satisfied are you with how this complaint was handled?",
        "survey_form": "The full survey (nine service elements, one page): {url}",
        "survey_thanks": "Thank you for your rating: {label}.",
        "survey_not_open": "Only your own resolved complaints can be rated.",
        "survey_comment": (
            "If you like, answer this message with a comment or suggestion on ticket {number}."
        ),
        "comment_thanks": "Thank you, your comment has been recorded.",
        "lang_set": "Language set to English.",
        "lang_usage": "Use /lang id (Bahasa Indonesia) or /lang en (English).",
        "unsupported": (
            "Sorry, we cannot accept this kind of message yet. Send text, a photo, a "
            "document, a voice note or a location."
        ),
        "unknown_command": "Unknown command.\n\n" + _HELP_EN,
    },
}


def lang_of(value: str | None, default: str) -> str:
    return value if value in LANGUAGES else default


def say(lang: str, key: str, **kw: object) -> str:
    table = TEXTS.get(lang, TEXTS["id"])
    template = table.get(key) or TEXTS["id"][key]
    return template.format(**kw)


def state_name(lang: str, state: str) -> str:
    return STATES.get(lang, STATES["id"]).get(state, state)


def ikm_label(lang: str, score: int) -> str:
    return IKM.get(lang, IKM["id"]).get(score, str(score))
