"""The benchmark command runs: a seconds-long smoke run of every figure.

Timings are not asserted here (they belong to a quiet machine, not to CI);
``python benchmarks/run.py`` prints them against their targets.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"


def test_the_benchmark_command_runs_every_figure() -> None:
    result = subprocess.run([sys.executable, str(RUN), "--quick"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for section in ("1. client throughput", "2. render duty cycle", "3. display traffic", "4. load time",
                    "5. time to first token", "6. memory", "7. --over"):
        assert section in out
    assert "mistral_magic / floor" in out and ("mistralai / mistral_magic" in out)
    assert "final output = bundle(whole reply) rendered at once" in out
    assert "concurrency 32: mistral_magic / the loop" in out and "kernel memory kept per row" in out
    identical = [line for line in out.splitlines() if "rendered" in line and "identical" in line]
    assert identical and all(line.rstrip().endswith("pass") for line in identical)
