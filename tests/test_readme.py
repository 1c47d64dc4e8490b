"""The README's offline walk-through works, command for command, with the exit codes it states."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _walkthrough() -> list[tuple[str, int]]:
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- walkthrough -->", 1)[1].split("<!-- /walkthrough -->", 1)[0]
    steps = []
    for line in block.splitlines():
        line = line.strip()
        if not line or line.startswith("```"):
            continue
        command, _, comment = line.partition("  #")
        wanted = re.search(r"exit (\d)", comment)
        steps.append((command.strip(), int(wanted.group(1)) if wanted else 0))
    return steps


def test_readme_walkthrough(tmp_path: Path) -> None:
    steps = _walkthrough()
    assert len(steps) == 12
    verdicts = []
    for command, wanted in steps:
        result = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True,
                                timeout=60, check=False)
        assert result.returncode == wanted, f"{command}\n{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.stderr
        if command.startswith("tocsin verify"):
            verdicts.append(result.stdout.split(":", 1)[0])
    assert verdicts == ["authentic", "altered", "unauthorised"]
    assert (tmp_path / "keys" / "ua.kova.key").stat().st_mode & 0o777 == 0o600
