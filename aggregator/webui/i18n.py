"""Indonesian first, English on request.

Templates and pages are written in Indonesian; `translator("en")` maps each phrase to
English (a phrase without an entry stays Indonesian, and a test lists any such gap).
`label` names the values of the vocabulary (states, priorities, channels...).
"""

from __future__ import annotations

from collections.abc import Callable

from aggregator.webui.phrases import EN

LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "state": {"new": ("Baru", "New"), "in_progress": ("Diproses", "In progress"),
              "waiting": ("Menunggu pelapor", "Waiting on reporter"),
              "resolved": ("Selesai", "Resolved"), "closed": ("Ditutup", "Closed")},
    "priority": {"low": ("Rendah", "Low"), "normal": ("Normal", "Normal"),
                 "high": ("Tinggi", "High"), "urgent": ("Mendesak", "Urgent")},
    "role": {"agent": ("Petugas", "Agent"), "supervisor": ("Supervisor", "Supervisor"),
             "admin": ("Admin", "Admin")},
    "channel": {"email": ("Email", "Email"), "telegram": ("Telegram", "Telegram"),
                "twitter": ("X", "X"), "web-form": ("Formulir web", "Web form"),
                "sms-1708": ("SMS 1708", "SMS 1708"), "lapor": ("LAPOR!", "LAPOR!"),
                "escalation": ("Webhook eskalasi", "Escalation webhook")},
    "kind": {"complaint": ("Pengaduan", "Complaint"), "aspiration": ("Aspirasi", "Aspiration"),
             "information_request": ("Permintaan informasi", "Information request"),
             "whistleblowing": ("Pelaporan pelanggaran (WBS)", "Whistleblowing")},
    "message": {"ack": ("Tanda terima", "Acknowledgement"), "reply": ("Balasan", "Reply"),
                "status": ("Kabar status", "Status update"),
                "notify": ("Pemberitahuan staf", "Staff notice")},
    "outbox": {"pending": ("Menunggu kirim", "Pending"), "sent": ("Terkirim", "Sent"),
               "skipped": ("Tidak dikirim kanal ini", "Skipped by channel"),
               "dead": ("Gagal", "Failed")},
    "token": {"active": ("Aktif", "Active"), "expired": ("Kedaluwarsa", "Expired"),
              "revoked": ("Dicabut", "Revoked")},
    "sla": {"first_response": ("respons pertama", "first response"),
            "resolution": ("penyelesaian", "resolution")},
    "reason": {"new": ("Laporan baru", "New report"),
               "reply": ("Balasan pelapor di utas yang sama", "Reporter replied in the thread"),
               "ticket_ref": ("Pelapor menyebut nomor tiket", "Reporter named the ticket"),
               "same_reporter": ("Pelapor yang sama mengulang", "Same reporter repeated it"),
               "near_duplicate": ("Digabung otomatis: mirip laporan lain",
                                  "Folded in automatically: a near-duplicate"),
               "split": ("Dipisahkan dari tiket lain", "Split from another ticket"),
               "merged": ("Dipindah saat penggabungan", "Moved by a merge"),
               "existing": ("Laporan yang sudah ada", "Already stored")},
}


def translator(lang: str) -> Callable[[str], str]:
    if lang == "en":
        return lambda phrase: EN.get(phrase, phrase)
    return lambda phrase: phrase


def label(lang: str, kind: str, value: object) -> str:
    names = LABELS.get(kind, {}).get(str(value))
    if names is None:
        return "" if value is None else str(value)
    return names[1] if lang == "en" else names[0]
