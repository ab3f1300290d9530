"""Running a writer script in a child process and killing it, for the crash tests."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path


def first_line_then_sigkill(script: Path, *args: str) -> str:
    """Run ``script`` with ``args``, wait for its first line of output, SIGKILL it; the line.

    The script prints that line once it has done what it acknowledges, then keeps running.
    """
    proc = subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return line
