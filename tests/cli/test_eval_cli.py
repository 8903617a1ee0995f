from pathlib import Path

import pytest

from ropeguard.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["eval", "--lengths", "1k"], "--base-url"),
        (["eval", "--lengths", "1k", "--backend", "transformers"], "--model"),
        (["eval", "--lengths", "1k", "--base-url", "http://127.0.0.1:1/v1", "--depths", "0,2"], "outside"),
        (["eval", "--lengths", "1k", "--base-url", "http://127.0.0.1:1/v1", "--gate", "8k"], "LEN:MIN"),
        (["eval", "--lengths", "1k", "--base-url", "http://127.0.0.1:1/v1", "--gate", "8k:1.5"], "between"),
        (["eval", "--lengths", "1x", "--base-url", "http://127.0.0.1:1/v1"], "token count"),
        (["eval", "--lengths", "1k", "--base-url", "http://127.0.0.1:1/v1", "--mode", "raw"], "--mode"),
        (["eval", "--lengths", "1k", "--base-url", "http://127.0.0.1:1/v1", "--task", "nope"], "not a task"),
        (["eval", "--lengths", "1k", "--base-url", "http://127.0.0.1:1/v1", "--trials", "0"], "--trials"),
        (
            ["eval", "--lengths", "1k", "--backend", "transformers", "--model", "m", "--hf-overrides", "{x"],
            "not valid JSON",
        ),
        (["eval", "--lengths", "1k", "--base-url", "http://127.0.0.1:1/v1"], "cannot reach"),
    ],
)
def test_usage_and_input_errors_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    assert main([*argv, "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err
    assert "Traceback" not in captured.err


def test_eval_text_labels_the_table_and_leads_with_the_served_length_mismatch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_cli_invocations import _stored_run  # right at 1024, wrong at 2048, served 2048

    import ropeguard.evals
    from ropeguard.evals.loader import load_run

    run = load_run(_stored_run(tmp_path / "run"))
    monkeypatch.setattr(ropeguard.evals, "run", lambda config: run)
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["eval", "--base-url", "http://127.0.0.1:1/v1", "--lengths", "1k,2k"]) == 0
    out = capsys.readouterr().out
    assert "needle depth (% into the prompt)" in out and "prompt length" in out
    flat = " ".join(out.split())
    assert "warning: Served max length 2k (2048 tokens), but recall holds (>= 0.90) only to 1k" in flat
    assert max(len(line) for line in out.splitlines()[:8]) <= 80
