"""Assemble docs/benchmarks.md from the fragments each benchmark script writes to docs/benchmarks/.

Usage: python benchmarks/assemble_docs.py
Each fragment states its own machine, load and reproduce command; this script only orders and joins them.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ORDER = [
    "head_to_head.md",
    "pgcgm_chemistry_panel.md",
    "data_prepare.md",
    "crystens_roundtrip.md",
    "pgcgm_dataset.md",
    "pgcgm_postprocess.md",
    "pgcgm_generation_speed.md",
    "pgcgm_push_apart.md",
    "pgcgm_critic_rejection.md",
    "pgcgm_stability_rank.md",
    "head_to_head_ranked.md",
    "pgcgm.md",
    "crystens_models.md",
    "crystens_context.md",
    "crystens_occupancy_lock.md",
    "crystens_pair_skip.md",
    "crystens_sampling.md",
    "crystens_sampling_steps.md",
    "crystens_cleanup.md",
    "crystens_conditional_lowsym.md",
    "crystens_drawn.md",
    "evaluation.md",
    "relaxation_throughput.md",
    "screen_scale.md",
    "potentials.md",
    "property_distributions.md",
    "gpu_session.md",
]

HEADER = """# Benchmarks

Every figure below was measured by the script named in its section, on this project's 2-core CPU machine
(no GPU), except the GPU section, which names its machine. Sections say how loaded the machine was;
figures taken while other jobs ran are lower bounds for
speed. Regenerate a section by running its script, then this page with `python benchmarks/assemble_docs.py`.
"""


_LINK = re.compile(r"\]\((?![a-z]+:|/|#)([^)\s]+)\)")


def relink(text: str, folder: Path) -> str:
    """Links relative to a fragment (e.g. to its plots in ``docs/benchmarks/<name>/``) made relative to
    ``docs/``, where the assembled page lives; links to files that do not exist there are left alone."""
    prefix = folder.name

    def fix(match: re.Match[str]) -> str:
        target = match.group(1)
        return f"]({prefix}/{target})" if (folder / target).exists() else match.group(0)

    return _LINK.sub(fix, text)


def main() -> None:
    folder = REPO / "docs" / "benchmarks"
    fragments = sorted(folder.glob("*.md"), key=lambda p: (ORDER.index(p.name) if p.name in ORDER else 99, p.name))
    parts = [HEADER]
    for path in fragments:
        text = relink(path.read_text().strip(), folder)
        if not text.startswith("#"):
            text = f"## {path.stem.replace('_', ' ')}\n\n{text}"
        parts.append(("\n" + text).replace("\n# ", "\n## ").lstrip("\n"))
    (REPO / "docs" / "benchmarks.md").write_text("\n\n".join(parts) + "\n")
    print(f"wrote docs/benchmarks.md from {len(fragments)} fragments")


if __name__ == "__main__":
    main()
