"""English for every Indonesian phrase of the web UI (tests/webui/test_i18n.py checks
that templates and pages use no phrase missing here)."""

from __future__ import annotations

EN: dict[str, str] = {
    # layout
    "Aduan": "Aduan", "Layanan Pengaduan": "Complaint Service",
    "Langsung ke isi": "Skip to content", "Menu utama": "Main menu", "Antrean": "Queue",
    "Tiket saya": "My tickets", "Unit saya": "My unit", "Kotak keluar": "Outbox",
    "Kesehatan": "Health", "Pengguna": "Users", "Unit": "Units", "Token API": "API tokens",
    "Keluar": "Sign out", "Pintasan papan ketik": "Keyboard shortcuts",
    "Cari tiket": "Search tickets", "Tiket berikutnya / sebelumnya": "Next / previous ticket",
    "Buka tiket terpilih": "Open the selected ticket", "Tulis balasan": "Write a reply",
    "Tulis catatan internal": "Write an internal note",
    "Kembali ke antrean": "Back to the queue", "Tampilkan pintasan ini": "Show these shortcuts",
    "Tutup": "Close",
    # login
    "Masuk": "Sign in", "Masuk ke Layanan Pengaduan": "Sign in to the Complaint Service",
    "Satu antrean untuk semua aduan: email, Telegram, X, LAPOR!, SMS dan formulir web.":
        "One queue for every complaint: email, Telegram, X, LAPOR!, SMS and web forms.",
    "Nama pengguna": "Username", "Kata sandi": "Password",
    "Nama pengguna atau kata sandi salah.": "Wrong username or password.",
    "Terlalu banyak percobaan masuk yang gagal. Coba lagi nanti.":
        "Too many failed sign-ins. Try again later.",
    "Anda sudah keluar.": "You have signed out.",
    "Sesi Anda berakhir. Silakan masuk lagi.": "Your session ended. Please sign in again.",
    # queue
    "Tampilan antrean": "Queue views", "Semua": "All",
    "Penyaring antrean": "Queue filters", "Cari": "Search",
    "Nomor tiket atau kata dalam aduan": "Ticket number or words of the complaint",
    "Status": "State", "Terbuka": "Open", "Semua status": "All states", "Kanal": "Channel",
    "Semua kanal": "All channels", "Semua unit": "All units", "Petugas": "Assignee",
    "Semua petugas": "Everyone", "Prioritas": "Priority", "Semua prioritas": "All priorities",
    "Kerahasiaan": "Confidentiality", "Hanya rahasia": "Confidential only",
    "Tidak rahasia": "Not confidential", "Hanya yang dieskalasi": "Escalated only",
    "Hapus filter": "Clear filters", "Urutan": "Order", "Paling mendesak": "Most urgent",
    "Paling cocok dengan pencarian": "Best match for the search",
    "{n} tiket baru atau berubah": "{n} new or changed tickets",
    "Tiket, yang paling mendesak di atas": "Tickets, most urgent first", "Tiket": "Ticket",
    "Unit / petugas": "Unit / assignee", "SLA": "SLA", "Diperbarui": "Updated",
    "Tidak ada tiket yang cocok dengan pencarian ini.": "No ticket matches this search.",
    "Tidak ada tiket di sini.": "No tickets here.", "Halaman": "Pages",
    "Kembali ke awal": "Back to the start", "Halaman berikutnya": "Next page",
    "Dieskalasi": "Escalated", "Eskalasi {n}": "Escalation {n}", "Tingkat viral": "Viral level",
    "Viral {n}": "Viral {n}", "Rahasia": "Confidential", "{n} laporan": "{n} reports",
    "Tanpa unit": "No unit", "Belum ditugaskan": "Unassigned",
    "Status tidak dikenal.": "Unknown state.", "Prioritas tidak dikenal.": "Unknown priority.",
    "Halaman antrean ini sudah tidak berlaku; mulai dari awal.":
        "This queue page is no longer valid; start from the beginning.",
    "Anda belum tergabung dalam unit mana pun; minta admin menambahkannya.":
        "You are not in any unit yet; ask an admin to add you.",
    "baru saja": "just now", "{span} lalu": "{span} ago", "lewat {span}": "{span} overdue",
    "sisa {span}": "{span} left", "Sisa waktu SLA": "SLA time left",
    "Tenggat SLA terlewati": "SLA deadline missed",
    # ticket
    "Tiket ini sudah digabungkan ke": "This ticket was merged into", "Linimasa": "Timeline",
    "Menampilkan yang terbaru; {n} laporan dan peristiwa lama disembunyikan.":
        "Showing the latest; {n} older reports and events are hidden.",
    "Tampilkan semua": "Show all",
    "Balas pelapor": "Answer the reporters", "Kirim ke": "Send to",
    "Semua pelapor ({n})": "All reporters ({n})",
    "dan {n} pelapor lain (pilih Semua pelapor untuk membalas mereka)":
        "and {n} more reporters (choose All reporters to answer them)",
    "tidak akan terkirim": "will not be delivered",
    "Tiket ini tidak punya pelapor yang dapat dibalas.":
        "This ticket has no reporter who can be answered.",
    "Jawaban siap pakai": "Canned responses", "Pilih untuk menyisipkan…": "Choose to insert…",
    "Balasan": "Reply", "Kirim balasan": "Send reply",
    "Dikirim lewat kanal yang dipakai setiap pelapor.":
        "Sent through the channel each reporter used.",
    "Catatan internal": "Internal note",
    "Catatan untuk staf (tidak dikirim ke pelapor)":
        "Note for staff (never sent to reporters)",
    "Simpan catatan": "Save note", "Pengelolaan tiket": "Ticket handling",
    "Eskalasi level {n}": "Escalation level {n}", "Akui eskalasi": "Acknowledge escalation",
    "Diakui oleh {who}": "Acknowledged by {who}", "Penanganan": "Handling", "saya": "me",
    "Simpan perubahan": "Save changes", "Gabungkan": "Merge",
    "Nomor tiket tujuan": "Target ticket number", "Pratinjau penggabungan": "Preview merge",
    "Rincian": "Details", "Jenis": "Kind", "Dibuat": "Created", "Tenggat SLA": "SLA due",
    "Respons pertama": "First response", "belum": "not yet", "tenggat": "due",
    "Selesai": "Resolved", "Kepuasan": "Satisfaction",
    "Balasan masuk antrean pengiriman.": "Reply queued for delivery.",
    "Catatan disimpan.": "Note saved.", "Perubahan disimpan.": "Changes saved.",
    "Eskalasi diakui.": "Escalation acknowledged.", "Tiket digabungkan.": "Tickets merged.",
    "Laporan dipisahkan ke tiket baru.": "Report split into a new ticket.",
    "identitas disembunyikan": "identity hidden", "Telegram · chat {id}": "Telegram · chat {id}",
    "Email · {to}": "Email · {to}", "X · balasan ke twit {id}": "X · reply to post {id}",
    "callback LAPOR! ke {host}": "LAPOR! callback to {host}",
    "{source} tanpa callback": "{source} without a callback",
    "{source}: konektor tidak aktif": "{source}: connector not running",
    "Lampiran tidak ditemukan.": "Attachment not found.",
    "Pilih penerima balasan.": "Choose who receives the reply.",
    "Tiket tidak ditemukan.": "Ticket not found.",
    "Petugas hanya dapat memindahkan tiket ke unitnya sendiri.":
        "Agents can only move tickets to their own units.",
    "Isi nomor tiket tujuan.": "Enter the target ticket number.",
    "Laporan tidak ditemukan.": "Report not found.",
    "Perubahan status ini tidak diperbolehkan.": "This state change is not allowed.",
    "Tindakan ini bertentangan dengan keadaan tiket saat ini.":
        "This action conflicts with the ticket's current state.",
    "Teks terlalu panjang.": "The text is too long.",
    "Penerima yang dipilih bukan pelapor tiket ini.":
        "The chosen recipient is not a reporter of this ticket.",
    "Tiket tidak dapat digabungkan ke dirinya sendiri.": "A ticket cannot be merged into itself.",
    "Tiket ini sudah digabungkan.": "This ticket is already merged.",
    "Tiket rahasia dan tiket biasa tidak dapat digabungkan.":
        "A confidential ticket and an ordinary one cannot be merged.",
    "Ini satu-satunya laporan pada tiketnya; tidak ada yang bisa dipisahkan.":
        "This is the only report of its ticket; there is nothing to split.",
    # timeline
    "baris perintah": "command line", "Pelapor": "Reporter", "Sistem": "System",
    "Identitas disembunyikan": "Identity hidden", "Tanpa nama": "No name",
    "Minta anonim": "Asked to stay anonymous", "Lampiran gambar": "Image attachment",
    "lampiran": "attachment", "tidak disimpan": "not stored", "di sumber:": "at the source:",
    "Lokasi": "Location", "Pisahkan laporan ini": "Split this report out",
    "{n} percobaan": "{n} attempts", "Balasan dari {who}": "Reply from {who}",
    "Catatan internal dari {who}": "Internal note from {who}",
    "{who} mengubah status: {a} → {b}": "{who} changed the state: {a} → {b}",
    "{who} mengubah prioritas: {a} → {b}": "{who} changed the priority: {a} → {b}",
    "{who} memindahkan ke unit: {b}": "{who} moved it to unit: {b}", "tanpa unit": "no unit",
    "{who} menugaskan ke: {b}": "{who} assigned it to: {b}", "tidak ada": "nobody",
    "Tiket {src} digabungkan ke tiket ini ({n} laporan)":
        "Ticket {src} was merged into this one ({n} reports)",
    "otomatis: laporan {r} cocok dengan keduanya":
        "automatically: report {r} matched both",
    "Tiket ini digabungkan ke {dst}": "This ticket was merged into {dst}",
    "Laporan #{id} dipisahkan ke {dst}": "Report #{id} was split out to {dst}",
    "Tiket dibuat": "Ticket created", "dipisahkan dari {src}": "split from {src}",
    "Laporan ditambahkan": "Report added", "Pengiriman gagal": "Delivery failed",
    "Pengiriman tertunda": "Delivery delayed",
    "{who} mengirim ulang pesan #{id}": "{who} sent message #{id} again",
    "Survei kepuasan: {label} ({score}/4)": "Satisfaction survey: {label} ({score}/4)",
    "Komentar survei": "Survey comment", "Tingkat viral: {a} → {b}": "Viral level: {a} → {b}",
    "Dieskalasi ke level {n}": "Escalated to level {n}",
    "Pemberitahuan eskalasi dikirim (level {n})": "Escalation notice sent (level {n})",
    "{who} mengakui eskalasi level {n}": "{who} acknowledged escalation level {n}",
    "{who} melihat identitas pelapor rahasia": "{who} viewed a confidential reporter's identity",
    # merge, split
    "Gabungkan tiket": "Merge tickets", "Gabungkan {src} ke {dst}?": "Merge {src} into {dst}?",
    "Dari": "From", "Ke": "Into",
    "Semua {n} laporan dari {src} pindah ke {dst}; {dst} akan punya {total} laporan.":
        "All {n} reports of {src} move to {dst}; {dst} will have {total} reports.",
    "{src} ditutup dan menunjuk ke {dst}.": "{src} is closed and points to {dst}.",
    "Prioritas hasil: {p}.": "Resulting priority: {p}.",
    "Para pelapor {src} diberi tahu nomor tiket barunya.":
        "The reporters of {src} are told their new ticket number.",
    "Batal": "Cancel", "Pisahkan laporan": "Split a report",
    "Pisahkan laporan #{id} dari {n}?": "Split report #{id} out of {n}?",
    "Laporan ini mendapat tiket baru dengan prioritas dan unit yang sama.":
        "This report gets a new ticket with the same priority and unit.",
    "{n} tinggal dengan {m} laporan.": "{n} keeps {m} reports.",
    "Pencocokan otomatis tidak akan menggabungkannya kembali.":
        "Automatic matching will not fold it back in.",
    "Pisahkan": "Split",
    # errors
    "Tidak ditemukan": "Not found", "Ditolak": "Refused",
    "Terlalu banyak permintaan": "Too many requests", "Tidak dapat diproses": "Cannot be done",
    "Halaman ini untuk peran yang lebih tinggi.": "This page needs a higher role.",
    "Tindakan ini untuk peran yang lebih tinggi.": "This action needs a higher role.",
    "Isian tidak valid.": "A value is not valid.",
    "Teks berisi karakter yang tidak dapat disimpan.":
        "The text contains characters that cannot be stored.",
    "Isian ini wajib diisi.": "This field is required.",
    "Permintaan ditolak: token keamanan (CSRF) tidak ada atau tidak cocok. "
    "Muat ulang halaman lalu coba lagi.":
        "Request refused: the security (CSRF) token is missing or does not match. "
        "Reload the page and try again.",
    # admin
    "Semua pengguna": "All users", "Nama": "Name", "Peran": "Role", "Keadaan": "State",
    "Tindakan": "Actions", "tanpa kata sandi": "no password", "Nonaktif": "Disabled",
    "Aktif": "Active", "Ubah": "Edit", "Tambah pengguna": "Add user",
    "Kata sandi awal (minimal 8 karakter)": "Initial password (at least 8 characters)",
    "Ubah pengguna {name}": "Edit user {name}",
    "Belum ada unit; tambahkan di halaman Unit.": "No units yet; add them on the Units page.",
    "Nonaktifkan (sesi dan token berhenti berlaku)":
        "Disable (sessions and tokens stop working)",
    "Kata sandi baru (kosongkan bila tidak diubah)": "New password (leave empty to keep)",
    "Pengguna ditambahkan.": "User added.", "Pengguna tidak ditemukan.": "User not found.",
    "Daftar unit": "Units", "Anggota": "Members",
    "Hapus unit ini dari daftar? Tiketnya tetap menyimpan nama unit.":
        "Remove this unit from the list? Its tickets keep the unit's name.",
    "Hapus": "Remove", "dipakai tiket, belum terdaftar": "used by tickets, not listed",
    "Tambah unit": "Add unit", "Nama unit": "Unit name", "Keterangan": "Description",
    "Unit ditambahkan.": "Unit added.", "Unit dihapus dari daftar.": "Unit removed from the list.",
    "Unit itu sudah ada.": "That unit exists already.",
    "Token baru": "New token", "Nilai token": "Token value",
    "Salin sekarang: token ini hanya ditampilkan sekali.":
        "Copy it now: this token is shown only once.",
    "Token": "Tokens", "Pemilik": "Owner", "Label": "Label", "Berlaku sampai": "Valid until",
    "Terakhir dipakai": "Last used",
    "Cabut token ini? Program yang memakainya berhenti bekerja.":
        "Revoke this token? Programs using it stop working.",
    "Cabut": "Revoke", "Belum ada token.": "No tokens yet.", "Buat token": "Create token",
    "Untuk pengguna": "For user", "Label (untuk apa token ini)": "Label (what the token is for)",
    "Masa berlaku (hari)": "Valid for (days)", "Token dicabut.": "Token revoked.",
    "Token tidak ditemukan.": "Token not found.",
    "Masa berlaku harus berupa angka hari.": "The validity must be a number of days.",
    "Kesehatan layanan": "Service health", "Proses": "Process", "Konektor": "Connectors",
    "Tugas berkala": "Periodic jobs", "Dimulai ulang": "Restarts",
    "Galat terakhir": "Last error", "Tidak ada.": "None.", "Keadaan pesan": "Message states",
    "Pesan yang gagal setelah semua percobaan. Perbaiki penyebabnya (alamat, token, "
    "layanan tujuan), lalu kirim ulang.":
        "Messages that failed every attempt. Fix the cause (address, token, receiving "
        "service), then send them again.",
    "Pesan": "Messages", "Lewat": "Via", "Percobaan": "Attempts", "Kirim ulang": "Send again",
    "Tidak ada pesan dalam keadaan ini.": "No messages in this state.",
    "Pesan masuk antrean pengiriman lagi.": "The message is queued for delivery again.",
    "Pesan tidak ditemukan.": "Message not found.",
    "Pesan ini tidak (lagi) gagal; tidak ada yang dikirim ulang.":
        "This message is not (or no longer) failed; nothing was sent again.",
}
