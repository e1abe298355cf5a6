"""Read a CIF one data block at a time: one structure per block that holds atoms.

pymatgen's ``CifParser.parse_structures(on_error="raise")`` stops at the first block it cannot read,
and databases (Pauling File / SpringerMaterials ``PF_sd_*`` exports) put a first block with only
bibliographic data before the blocks with the structure. Here every block is parsed on its own:
blocks without an atom-site loop are listed as skipped, a block that fails is rejected with its
reason, the others are kept.

pymatgen's CIF tokenizer divides by the number of values of every loop, so a ``loop_`` with column
names but no values (pymatgen's own magnetic CIF writer emits an empty ``_atom_site_moment_*`` loop
for a structure without magnetic moments) fails with ``ZeroDivisionError: integer modulo by zero``.
Such loops hold no data; when the tokenizer fails that way they are removed and the text is parsed again.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

from pymatgen.core import Structure

from xtalgen.data.structure_checks import cell_parameter_problem

_CELL_TAGS = {
    "_cell_length_a": "a", "_cell_length_b": "b", "_cell_length_c": "c",
    "_cell_angle_alpha": "alpha", "_cell_angle_beta": "beta", "_cell_angle_gamma": "gamma",
}  # fmt: skip
_ATOM_TAGS = ("_atom_site_fract_x", "_atom_site_Cartn_x")
_UNCERTAINTY = re.compile(r"\(\d+\)$")


@dataclass
class CifBlockResult:
    """One data block: its name and either a structure or a ``(reason, detail)`` rejection."""

    name: str
    structure: Structure | None = None
    rejection: tuple[str, str] | None = None


def drop_empty_loops(text: str) -> str:
    """Remove ``loop_`` constructs that name columns but hold no values (see the module docstring)."""
    lines = text.splitlines()
    keep: list[str] = []
    i = 0
    while i < len(lines):
        if lines[i].strip().lower() != "loop_":
            keep.append(lines[i])
            i += 1
            continue
        j = i + 1
        while j < len(lines) and _is_column_name(lines[j]):
            j += 1
        k = j
        while k < len(lines) and (not lines[k].strip() or lines[k].lstrip().startswith("#")):
            k += 1
        following = lines[k].strip().lower() if k < len(lines) else ""
        if j > i + 1 and (k == len(lines) or following.startswith(("loop_", "data_", "_"))):
            i = j  # an empty loop: drop "loop_" and its column names
            continue
        keep.append(lines[i])
        i += 1
    return "\n".join(keep) + "\n"


def _is_column_name(line: str) -> bool:
    parts = line.split()
    return len(parts) == 1 and parts[0].startswith("_")


def _cif_number(value: object) -> float | None:
    text = _UNCERTAINTY.sub("", str(value).strip().strip("'\""))
    try:
        return float(text)
    except ValueError:
        return None


def _cell_parameters(block_data: dict) -> dict[str, float]:
    params: dict[str, float] = {}
    for tag, key in _CELL_TAGS.items():
        if tag in block_data:
            number = _cif_number(block_data[tag])
            if number is not None:
                params[key] = number
    return params


def _no_atoms_reason(block_data: dict) -> str | None:
    """Why a block holds no atoms (no coordinate column, or only unknown values ``?``/``.``), else None."""
    for tag in _ATOM_TAGS:
        if tag in block_data:
            values = block_data[tag]
            values = values if isinstance(values, list) else [values]
            if any(str(v).strip() not in ("?", ".", "") for v in values):
                return None
            return f"every {tag} value is unknown ('?')"
    return "block has no atom-site coordinates"


def _open_parser(text: str):  # noqa: ANN202 - pymatgen's CifParser
    from pymatgen.io.cif import CifParser

    try:
        return CifParser.from_str(text, occupancy_tolerance=1.0)
    except ZeroDivisionError:
        pass
    try:
        return CifParser.from_str(drop_empty_loops(text), occupancy_tolerance=1.0)
    except ZeroDivisionError:
        raise ValueError("malformed CIF: a loop_ names columns but holds no values") from None


def parse_cif_blocks(text: str) -> list[CifBlockResult]:
    """Parse every data block of a CIF; blocks without atoms come back with rejection ``no atoms in block``.

    Raises for text that is not CIF at all (the tokenizer fails); per-block failures are rejections.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parser = _open_parser(text)
        blocks = dict(parser._cif.data)  # noqa: SLF001 - pymatgen keeps the parsed blocks here
        results: list[CifBlockResult] = []
        for name, block in blocks.items():
            empty = _no_atoms_reason(block.data)
            if empty is not None:
                results.append(CifBlockResult(name, rejection=("no atoms in block", empty)))
                continue
            problem = cell_parameter_problem(_cell_parameters(block.data))
            if problem is not None:
                results.append(CifBlockResult(name, rejection=problem))
                continue
            parser._cif.data = {name: block}  # noqa: SLF001 - parse this block alone
            try:
                structures = parser.parse_structures(primitive=False, on_error="raise")
            except Exception as exc:  # a property of this block
                detail = " ".join(f"{type(exc).__name__}: {exc}".split())
                detail = detail.replace("No structure parsed for section 1 in CIF.", "block not readable:")
                detail = detail.replace("Invalid CIF file with no structures!", "pymatgen built no structure from it")
                results.append(CifBlockResult(name, rejection=("unparseable", detail)))
                continue
            results.extend(CifBlockResult(name, structure=s) for s in structures)
        parser._cif.data = blocks  # noqa: SLF001
    return results
