"""A real worker process running the test handler: `python -m tests.jobs.workerproc`.

Settings come from INKSHADOW_* variables like any worker; INKSHADOW_TEST_RUNLOG names the
file finished chunk runs are appended to. The loop is the product's `run_worker`."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from inkshadow.cli_jobs import Closer, run_worker
from inkshadow.jobs.types import HandlerRegistry
from inkshadow.logs import configure_logging
from inkshadow.settings import Settings
from tests.jobs.handlers import registry


async def quick_handlers(_: Settings) -> tuple[HandlerRegistry, Closer]:
    runlog = os.environ.get("INKSHADOW_TEST_RUNLOG")

    async def close() -> None:
        return None

    return registry(Path(runlog) if runlog else None), close


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    asyncio.run(run_worker(settings, port, False, quick_handlers))


if __name__ == "__main__":
    main()
