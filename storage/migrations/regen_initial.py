"""Regenerate the initial migration from the models (pre-release only).

Until the first release there is no deployed schema to migrate, so the whole schema
lives in one revision, rebuilt from the models: `python -m storage.migrations.regen_initial`.
After the first release, add ordinary revisions instead.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from alembic import command

from storage.db import create_engine
from storage.migrate import MIGRATIONS, alembic_config

INITIAL = MIGRATIONS / "versions" / "0001_initial.py"


async def main() -> None:
    INITIAL.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'empty.db'}")
        cfg = alembic_config()

        def _gen(sync_conn: Any) -> None:
            cfg.attributes["connection"] = sync_conn
            command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")

        async with engine.begin() as conn:
            await conn.run_sync(_gen)
        await engine.dispose()
    generated = next((MIGRATIONS / "versions").glob("0001_*.py"))
    generated.rename(INITIAL)
    print(f"wrote {INITIAL}")


if __name__ == "__main__":
    asyncio.run(main())
