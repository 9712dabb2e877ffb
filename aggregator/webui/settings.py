"""`webui` in config.yaml: the staff web UI served by the daemon at /ui/."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field

from aggregator.sections import Duration, Section


class CannedResponse(Section):
    title: str = Field(min_length=1, max_length=80)
    text: str = Field(min_length=1, max_length=4000)


DEFAULT_CANNED = [
    CannedResponse(title="Terima kasih, sedang ditindaklanjuti", text=(
        "Terima kasih atas laporan Anda. Laporan ini sudah kami terima dan sedang "
        "ditindaklanjuti oleh unit terkait. Kami akan mengabari Anda kembali.")),
    CannedResponse(title="Mohon data tambahan", text=(
        "Terima kasih atas laporan Anda. Agar dapat kami tindak lanjuti, mohon kirimkan "
        "lokasi yang lebih rinci (alamat atau titik peta) dan foto bila ada.")),
    CannedResponse(title="Sudah selesai ditangani", text=(
        "Laporan Anda sudah selesai ditangani. Terima kasih telah membantu kami "
        "memperbaiki pelayanan. Bila masalah masih terjadi, balas pesan ini.")),
    CannedResponse(title="Di luar kewenangan", text=(
        "Terima kasih atas laporan Anda. Hal ini berada di luar kewenangan kami; laporan "
        "sudah kami teruskan kepada instansi yang berwenang.")),
]


class WebUISettings(Section):
    enabled: bool = True
    language: Literal["id", "en"] = "id"  # the default; each person can switch
    # A session ends after this long without a request, and in any case after `lifetime`.
    session_idle: Duration = timedelta(hours=2)
    session_lifetime: Duration = timedelta(hours=12)
    poll_interval: Duration = timedelta(seconds=5)  # how often an open queue asks for news
    page_size: int = Field(50, ge=10, le=200)
    canned_responses: list[CannedResponse] = Field(default_factory=lambda: list(DEFAULT_CANNED))
