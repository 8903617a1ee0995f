import subprocess
import sys

from ropeguard.cli import main


def test_help_lists_the_program(capsys: object) -> None:
    assert main(["--help"]) == 0


def test_unknown_command_is_a_usage_error() -> None:
    assert main(["no-such-command"]) == 2


def test_module_entry_point_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ropeguard", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert "ropeguard" in done.stdout
