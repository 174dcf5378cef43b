from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support import RunningServer, start_server  # noqa: E402


@pytest.fixture(scope="session")
def server() -> Iterator[RunningServer]:
    """The real server, started once for the test session and stopped at its end."""
    running = start_server()
    try:
        yield running
    finally:
        running.stop()
