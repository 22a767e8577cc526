"""Replication summaries and the results files of an evaluation (docs/original_code.md §9.4, §12.1).

Every metric is reported as `mean` and `conf = 1.96·std/√R` over the R replications, with
numpy's population std (ddof 0), as the reference's `multi_eval`. The headline table follows the
paper's layout: rows "Real motion" (ground truth through the same evaluator) and the model;
columns R-Precision top-1/2/3, FID, MM-Dist, Diversity, MultiModality (with `test_mm`) and FID-U /
FID-L (when the upper / lower evaluators were run). Results are written as
`<folder>/<tag or timestamp>.json` and `.md`, each atomically.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from crossdiff.evaluation.family_fidelity import fidelity_markdown
from crossdiff.io import save_json, save_text

CONFIDENCE_Z = 1.96        # two-sided 95% interval of a normal mean
MISSING = "–"

# (column title, metric of the model row, metric of the real-motion row or None)
MAIN_COLUMNS = [
    ("R-Precision Top-1 ↑", "r_precision_top1", "r_precision_top1_real"),
    ("Top-2 ↑", "r_precision_top2", "r_precision_top2_real"),
    ("Top-3 ↑", "r_precision_top3", "r_precision_top3_real"),
    ("FID ↓", "fid", None),
    ("MM-Dist ↓", "matching_score", "matching_score_real"),
    ("Diversity →", "diversity", "diversity_real"),
    ("MModality ↑", "multimodality", None),
]
PART_COLUMNS = {"upper": "FID-U ↓", "lower": "FID-L ↓"}


def summarize(values) -> dict:
    """Replication values [R] -> {"mean", "conf" (1.96·std/√R, ddof 0), "values"}."""
    values = np.asarray(values, dtype=np.float64)
    return {"mean": float(values.mean()), "conf": float(CONFIDENCE_Z * values.std() / math.sqrt(len(values))),
            "values": values.tolist()}


def summarize_replications(replications: list[dict]) -> dict:
    """[{part: {metric: value}}] per replication -> {part: {metric: summarize(values)}}."""
    first = replications[0]
    return {part: {name: summarize([rep[part][name] for rep in replications]) for name in metrics}
            for part, metrics in first.items()}


def _cell(summary: dict | None) -> str:
    if summary is None:
        return MISSING
    return f"{summary['mean']:.3f}±{summary['conf']:.3f}"


def main_part(parts) -> str:
    """The evaluator of the headline columns: `all` when it was run, else the first one listed."""
    parts = list(parts)
    return "all" if "all" in parts else parts[0]


def results_table(metrics: dict, model_name: str) -> str:
    """The paper-style Markdown table of `{part: {metric: summary}}`."""
    head = main_part(metrics)
    chosen = metrics[head]
    columns = [(title, ours, real) for title, ours, real in MAIN_COLUMNS if ours in chosen]
    extra = [(PART_COLUMNS[part], part) for part in ("upper", "lower") if part in metrics and part != head]
    titles = ["Method"] + [title for title, _, _ in columns] + [title for title, _ in extra]
    real_row = ["Real motion"] + [_cell(chosen.get(real)) if real else MISSING for _, _, real in columns]
    real_row += [MISSING] * len(extra)
    model_row = [model_name] + [_cell(chosen[ours]) for _, ours, _ in columns]
    model_row += [_cell(metrics[part]["fid"]) for _, part in extra]
    lines = [titles, ["---"] * len(titles), real_row, model_row]
    return "\n".join("| " + " | ".join(row) + " |" for row in lines)


def metrics_table(summaries: dict) -> str:
    """Every metric of one evaluator as a two-column Markdown table."""
    rows = ["| metric | mean ± 95% conf |", "|---|---|"]
    rows += [f"| {name} | {_cell(summary)} |" for name, summary in summaries.items()]
    return "\n".join(rows)


def build_report(results: dict, *, name: str, checkpoint: str | None, sampler: dict, config: dict,
                 tag: str | None = None) -> dict:
    """Everything a results file holds: metrics, protocol, sampler settings, checkpoint and config."""
    return {
        "name": name,
        "tag": tag,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "checkpoint": checkpoint,
        "sampler": sampler,
        "protocol": results["protocol"],
        "seconds": results["seconds"],
        "metrics": results["metrics"],
        "table": results_table(results["metrics"], name),
        "config": config,
    }


def guidance_interval(min_timestep: int) -> str:
    """" from timestep N" when guidance skips the steps below N (diffusion.guidance_min_timestep), else ""."""
    return f" from timestep {min_timestep}" if min_timestep else ""


def report_markdown(report: dict) -> str:
    """The Markdown page of a report: settings, the headline table, then every metric per evaluator."""
    protocol, sampler = report["protocol"], report["sampler"]
    batches = (f"{protocol['test_limit']} batches" if protocol["test_limit"] is not None
               else "the whole split in batches")
    lines = [
        f"# Evaluation of {report['name']}", "",
        f"- checkpoint: `{report['checkpoint']}`",
        f"- created: {report['created']} ({report['seconds']:.1f} s)",
        f"- sampler: {sampler['sampler']}, {sampler['sampling_steps']} of {sampler['diffusion_steps']} steps, "
        f"guidance scale {sampler['guidance_scale']}{guidance_interval(sampler.get('guidance_min_timestep', 0))}, "
        f"{sampler.get('precision', 'float32')}, path {sampler['path']}"
        + (f", change_idx {sampler['change_idx']}" if sampler["path"] == "mixture" else ""),
        f"- protocol: {protocol['replications']} replications x {batches} of {protocol['batch_size']} "
        f"({protocol['samples']} samples each) on the {protocol['split']} split; "
        f"evaluators {', '.join(protocol['parts'])} from `{protocol['evaluator_dir']}`"
        + (f"; MultiModality on {protocol['mm_texts']} texts x {protocol['mm_samples']} samples"
           if protocol["test_mm"] else ""),
        "", "Mean ± 1.96·std/√R over the replications.", "",
        report["table"], "",
    ]
    for part, summaries in report["metrics"].items():
        lines += [f"## Evaluator `{part}`", "", metrics_table(summaries), ""]
    if report.get("families"):
        source = report.get("families_from", "the test split")
        lines += ["## Per-family fidelity", "", f"The statistic that defines each motion family, on real clips of "
                  f"{source} and on motions generated for their captions.", "", fidelity_markdown(report["families"]), ""]
    return "\n".join(lines)


def save_report(report: dict, folder, tag: str | None = None) -> tuple[Path, Path]:
    """Write `<folder>/<tag or timestamp>.json` and `.md` atomically; returns both paths."""
    stem = tag or time.strftime("%Y%m%d-%H%M%S")
    folder = Path(folder)
    json_path, md_path = folder / f"{stem}.json", folder / f"{stem}.md"
    save_json(json_path, report)
    save_text(md_path, report_markdown(report))
    return json_path, md_path
