"""Report files of ``evaluate``: metrics JSON, per-question JSONL, a markdown table, a Recall@k plot,
and every row's whole ranking as a TREC run (for trec_eval / ranx, or ``evaluate --run`` later)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from rankrag_lite.answers import METRIC_LABELS
from rankrag_lite.io import dumps, write_json, write_png

METRICS_FILE = "metrics.json"
PER_QUESTION_FILE = "per_question.jsonl"
REPORT_FILE = "report.md"
PLOT_FILE = "recall_at_k.png"
RUNS_DIR = "runs"


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def markdown(summary: dict) -> str:
    ds = summary["dataset"]
    lines = [f"# Evaluation: {ds['name']}", "",
             f"- questions: {ds['questions']}; candidates per question: {ds['candidates_min']}"
             f"-{ds['candidates_max']}; first stage: {ds['first_stage']}",
             f"- gold labels: {ds['gold']}; answers: {ds['answers']}"]
    lines += [f"- {n}" for n in ds.get("notes", [])]
    lines += ["", "## Ranking", ""]
    cols = summary["ranking_columns"]
    lines.append("| ranker | " + " | ".join(cols) + " |")
    lines.append("|---|" + "---|" * len(cols))
    for name, r in summary["rankers"].items():
        lines.append(f"| {name} | " + " | ".join(_fmt(r["metrics"].get(c)) for c in cols) + " |")
    n_no_gold = ds.get("no_gold_in_candidates", 0)
    if n_no_gold:
        judged = ds.get("judged_questions", ds["questions"])
        lines += ["", f"{n_no_gold} of the {judged} judged questions have no gold passage among their "
                      "candidates: they count as 0 above, so Recall cannot reach 1. Over the "
                      f"{judged - n_no_gold} answerable ones:", ""]
        acols = summary.get("answerable_columns", [])
        lines.append("| ranker | " + " | ".join(acols) + " |")
        lines.append("|---|" + "---|" * len(acols))
        for name, r in summary["rankers"].items():
            m = r.get("metrics_answerable", {})
            lines.append(f"| {name} | " + " | ".join(_fmt(m.get(c)) for c in acols) + " |")
    lines += [""] + [f"- **{name}**: {r['description']}" for name, r in summary["rankers"].items()]
    if summary.get("significance"):
        lines += ["", *significance_table(summary["significance"])]
    if summary.get("answers"):
        a = summary["answers"]
        lines += ["", f"## Answers (model {a['model']}, top-{a['k']} passages, greedy, "
                      f"at most {a['max_new_tokens']} new tokens)", "",
                  "| passages from | " + " | ".join(METRIC_LABELS.values()) + " |",
                  "|---|" + "---|" * len(METRIC_LABELS)]
        for name, m in a["by_ranker"].items():
            lines.append(f"| {name} | " + " | ".join(_fmt(m.get(c)) for c in METRIC_LABELS.values()) + " |")
        lines += [""] + [f"- {k}: {v}" for k, v in a["definitions"].items()]
    lines += ["", f"Recall@k for k = 1..{min(20, ds['candidates_max'])}: `{PLOT_FILE}`."]
    if summary.get("runs"):
        lines += [f"Each row's whole ranking as a TREC run: `{RUNS_DIR}/` "
                  "(`evaluate --run NAME=FILE` reads one back)."]
    lines.append("")
    return "\n".join(lines)


def run_files(names: Sequence[str]) -> dict[str, str]:
    """Each row's run file, relative to the report folder: its name with anything but letters, digits
    and ``._+=-`` made ``_`` (``model+bm25:0.5`` -> ``runs/model+bm25_0.5.trec``), distinct."""
    files: dict[str, str] = {}
    for name in names:
        stem = re.sub(r"[^A-Za-z0-9._+=-]", "_", name).lstrip(".") or "ranker"
        base, i = stem, 2
        while f"{RUNS_DIR}/{stem}.trec" in files.values():
            stem, i = f"{base}-{i}", i + 1
        files[name] = f"{RUNS_DIR}/{stem}.trec"
    return files


def _p(p: float, permutations: int) -> str:
    if p < 1 / permutations:
        return f"p<{1 / permutations:g}"
    return f"p={p:.4f}" if p < 0.001 else f"p={p:.3f}"


def significance_table(sig: dict) -> list[str]:
    """Markdown lines: each row's difference from the reference per column, with its p-value."""
    ref = sig["reference"]
    rows = sig["rankers"]
    cols = list(next(iter(rows.values()))) if rows else []
    lines = [f"## Against {ref}, question by question", "",
             f"Difference of the mean from {ref}'s, with the two-sided p-value of a paired randomization test "
             f"(ranx, {sig['permutations']:,} permutations, seed {sig['seed']}) over {sig['questions']} questions; "
             "wins / losses: questions where the row is above / below it.", "",
             "| ranker | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for name, by_col in rows.items():
        cells = [f"{c['delta']:+.3f} ({_p(c['p'], sig['permutations'])}; {c['wins']}/{c['losses']})"
                 for c in by_col.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def plot(summary: dict, path: Path) -> None:
    write_png(recall_figure(summary), path, bbox_inches="tight")


def recall_figure(summary: dict):
    """The Recall@k figure (matplotlib, Agg backend) of an evaluation summary."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = "Recall" if any("Recall" in r["curve"] for r in summary["rankers"].values()) else "AnswerRecall"
    # k runs to the most candidates a question has (past it every curve is flat); the legend sits
    # beside the axes, where it cannot cover a curve
    k_max = max(1, int(summary["dataset"].get("candidates_max") or 20))
    fig, ax = plt.subplots(figsize=(8.4, 4.2), dpi=110)
    n = 1
    for name, r in summary["rankers"].items():
        ys = (r["curve"].get(key) or [])[:k_max]
        if ys:
            n = max(n, len(ys))
            ax.plot(range(1, len(ys) + 1), ys, marker="o", markersize=3, label=name)
    ax.set_xlabel("k")
    ax.set_ylabel("Recall@k" if key == "Recall" else "Answer recall@k")
    ax.set_xlim(0.5, n + 0.5)
    ax.set_xticks(range(1, n + 1, max(1, n // 20)))
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(f"{summary['dataset']['name']} ({summary['dataset']['questions']} questions)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def write_runs(folder: Path, files: dict[str, str], rankings: Sequence) -> None:
    """``files[ranking.name]`` gets each ranking of every question, best first, with its scores where it
    has them and ``n - rank + 1`` where it has none (a run read back from a file); the tag is the file's
    stem."""
    from rankrag_lite.formats.trec import trec_line

    (folder / RUNS_DIR).mkdir(exist_ok=True)
    for r in rankings:
        rel = files[r.name]
        tag = Path(rel).stem
        with open(folder / rel, "w", encoding="utf-8") as f:
            for qid, pids in r.order.items():
                sc = r.scores.get(qid) or {}
                for rank, pid in enumerate(pids, start=1):
                    f.write(trec_line(qid, pid, rank, sc.get(pid, len(pids) - rank + 1), tag))


def write_report(folder: Path, summary: dict, per_question: list[dict]) -> None:
    write_json(folder / METRICS_FILE, summary)
    with open(folder / PER_QUESTION_FILE, "w", encoding="utf-8") as f:
        for row in per_question:
            f.write(dumps(row) + "\n")
    (folder / REPORT_FILE).write_text(markdown(summary), encoding="utf-8")
    plot(summary, folder / PLOT_FILE)
