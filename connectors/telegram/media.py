"""Fetching a complaint's file (photo, document, voice...) within the size cap.

Files are downloaded before the report is ingested and travel on it, committed in the
same transaction (so a crash cannot leave a report whose file was never fetched while
Telegram thinks we are done). A file over the cap, or one that fails to download, keeps
its metadata and a note saying why the bytes are missing: the complaint itself is never
dropped.
"""

from __future__ import annotations

import hashlib
import logging

from telegram import Bot
from telegram.error import TelegramError

from aggregator.domain import Attachment
from connectors.telegram.parse import Media

log = logging.getLogger("connectors.telegram.media")


async def fetch(bot: Bot, media: Media, max_bytes: int) -> Attachment:
    file_id, size = _choose(media, max_bytes)
    url = f"telegram-file:{file_id}"
    name = media.file_name or (f"{media.kind}.jpg" if media.kind == "photo" else None)
    if max_bytes <= 0 or (size is not None and size > max_bytes):
        return Attachment(name, media.mime_type, size or 0, url=url,
                          note=f"not downloaded: {size} bytes is over the {max_bytes}-byte "
                               "limit")
    try:
        tg_file = await bot.get_file(file_id)
        if tg_file.file_size is not None and tg_file.file_size > max_bytes:
            return Attachment(name, media.mime_type, tg_file.file_size, url=url,
                              note=f"not downloaded: {tg_file.file_size} bytes is over the "
                                   f"{max_bytes}-byte limit")
        data = bytes(await tg_file.download_as_bytearray())
    except (TelegramError, RuntimeError, OSError) as exc:
        log.warning("file download failed: %s", exc)
        return Attachment(name, media.mime_type, size or 0, url=url,
                          note=f"download failed: {type(exc).__name__}: {exc}"[:500])
    if len(data) > max_bytes:
        return Attachment(name, media.mime_type, len(data), url=url,
                          note=f"not kept: {len(data)} bytes is over the {max_bytes}-byte limit")
    return Attachment(name, media.mime_type, len(data), sha256=hashlib.sha256(data).hexdigest(),
                      data=data, url=url)


def _choose(media: Media, max_bytes: int) -> tuple[str, int | None]:
    """For photos, the largest size within the cap; otherwise the one file there is."""
    for file_id, size in media.sizes:
        if size is None or size <= max_bytes:
            return file_id, size
    return media.file_id, media.file_size
