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
