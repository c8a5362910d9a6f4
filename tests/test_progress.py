"""rankrag_lite.progress: plain progress lines when stderr is not a terminal (a log file)."""

from __future__ import annotations


def test_plain_progress_lines_when_stderr_is_not_a_terminal(monkeypatch, capsys):
    from rankrag_lite import progress

    monkeypatch.setenv("RANKRAG_LITE_QUIET", "0")
    monkeypatch.setenv("RANKRAG_LITE_PROGRESS_EVERY", "3600")
    p = progress.make_progress()
    assert isinstance(p, progress.PlainProgress)  # pytest's stderr is not a terminal
    with p:
        t = p.add_task("Scoring", total=50, info="")
        for _ in range(50):
            p.advance(t)
    lines = capsys.readouterr().err.strip().splitlines()
    # one line per 10% done (the time trigger is an hour away), the last one without "left"
    assert len(lines) == 10, lines
    assert lines[0].startswith("Scoring: 5/50 (10%), ") and "left" in lines[0]
    assert lines[-1].startswith("Scoring: 50/50 (100%), ") and "/s" in lines[-1] and "left" not in lines[-1]
