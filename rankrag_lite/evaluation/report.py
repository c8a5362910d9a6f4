"""Report files of ``evaluate``: metrics JSON, per-question JSONL, a markdown table, a Recall@k plot."""

from __future__ import annotations

from pathlib import Path

from rankrag_lite.io import dumps, write_json

METRICS_FILE = "metrics.json"
PER_QUESTION_FILE = "per_question.jsonl"
REPORT_FILE = "report.md"
PLOT_FILE = "recall_at_k.png"


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
    if summary.get("answers"):
        a = summary["answers"]
        lines += ["", f"## Answers (model {a['model']}, top-{a['k']} passages, greedy, "
                      f"at most {a['max_new_tokens']} new tokens)", "",
                  "| passages from | EM | F1 | Acc |", "|---|---|---|---|"]
        for name, m in a["by_ranker"].items():
            lines.append(f"| {name} | {_fmt(m.get('EM'))} | {_fmt(m.get('F1'))} | {_fmt(m.get('Acc'))} |")
        lines += [""] + [f"- {k}: {v}" for k, v in a["definitions"].items()]
    lines += ["", f"Recall@k for k = 1..20: `{PLOT_FILE}`.", ""]
    return "\n".join(lines)


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = "Recall" if any("Recall" in r["curve"] for r in summary["rankers"].values()) else "AnswerRecall"
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    for name, r in summary["rankers"].items():
        ys = r["curve"].get(key)
        if ys:
            ax.plot(range(1, len(ys) + 1), ys, marker="o", markersize=3, label=name)
    ax.set_xlabel("k")
    ax.set_ylabel("Recall@k" if key == "Recall" else "Answer recall@k")
    ax.set_xticks(range(1, 21))
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(f"{summary['dataset']['name']} ({summary['dataset']['questions']} questions)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_report(folder: Path, summary: dict, per_question: list[dict]) -> None:
    write_json(folder / METRICS_FILE, summary)
    with open(folder / PER_QUESTION_FILE, "w", encoding="utf-8") as f:
        for row in per_question:
            f.write(dumps(row) + "\n")
    (folder / REPORT_FILE).write_text(markdown(summary), encoding="utf-8")
    plot(summary, folder / PLOT_FILE)
