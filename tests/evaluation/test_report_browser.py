"""The HTML report opens in headless Chromium without errors and shows its plots.

A small real report (evaluation with a stability screen from the table-driven fake energy model, so the
distribution plot, the E_hull histogram and gallery images are all present) is opened twice:

* a copy with a probe script injected at the top of ``<head>`` records every JS error and failed resource
  and, on ``load``, writes each ``<img>``'s decoded size (``naturalWidth`` × ``naturalHeight``) and laid-out
  size into ``document.title``, read back from ``--dump-dom``;
* the unmodified page is screenshotted; the PNG must not be blank and must contain the plots' coloured
  pixels (a control with the images removed must not).

Chromium's console (``--enable-logging=stderr``) must show no message from the page in either run.
Skipped only when Chromium is absent and not under CI (env ``CI``); under CI a missing browser fails.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from tests.evaluation.conftest import cscl, rocksalt
from tests.evaluation.test_stability import FakeEnergyModel

from xtalgen.evaluation.report import write_report
from xtalgen.evaluation.runner import default_metrics, evaluate

_BROWSERS = ("chromium", "chromium-browser", "google-chrome")
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
)
_TIMEOUT = 60  # s per browser run; a hang fails the test instead of stalling the suite

#: Injected first in <head>: collects errors, then reports every image on load (as JSON in the title).
_PROBE = """<script>
(function () {
  var errors = [];
  window.addEventListener("error", function (e) {
    var t = e.target;
    if (t && t !== window && t.tagName) { errors.push("resource " + t.tagName + " " + (t.alt || "").slice(0, 80)); }
    else { errors.push("js " + e.message); }
  }, true);
  window.addEventListener("load", function () {
    var images = Array.prototype.map.call(document.images, function (im) {
      var box = im.getBoundingClientRect();
      return {alt: im.alt, complete: im.complete, w: im.naturalWidth, h: im.naturalHeight,
              shown_w: Math.round(box.width), shown_h: Math.round(box.height)};
    });
    document.title = "XTALGEN_CHECK" + JSON.stringify({errors: errors, images: images});
  });
})();
</script>"""


@pytest.fixture(scope="module")
def chromium() -> str:
    """Path of the headless browser (checked before the report is built)."""
    for name in _BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI"):
        pytest.fail(f"CI run without a headless browser (looked for {', '.join(_BROWSERS)}); .ci/run installs chromium")
    pytest.skip("chromium not installed")


def _run_browser(binary: str, page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [binary, *_FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_TIMEOUT)
    assert proc.returncode == 0, (cmd, proc.stderr[-3000:])
    return proc


def _console_messages(stderr: str) -> list[str]:
    """Lines Chromium logs for the page's console (console.* calls and uncaught exceptions)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def _png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels from the PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """A real report with the distribution plot, the E_hull histogram and a gallery."""
    cs = Structure(Lattice.cubic(6.0), ["Cs"], [[0, 0, 0]])
    cl = Structure(Lattice.cubic(6.0), ["Cl"], [[0, 0, 0]])
    train = [("cs", cs), ("cl", cl), ("cscl", cscl(4.12))]
    test = [("s0", rocksalt(5.5)), ("s1", cscl(4.0)), ("s2", rocksalt(6.6, "K", "Br"))]
    cs3cl = Structure(
        Lattice.cubic(5.0), ["Cs", "Cs", "Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    )
    generated = [("same", cscl(4.3)), ("new", cs3cl), ("rs", rocksalt(6.9, "Cs", "Cl"))]
    table = {"Cs": 0.0, "Cl2": 0.0, "CsCl": -1.0, "Cs3Cl": -0.45}
    model = FakeEnergyModel(table)
    metrics = [m for m in default_metrics(energy_model=model) if m.name != "cov_precision"]  # coverage: MP data
    result = evaluate(
        generated, train, test, stability=True, energy_model=model, workers=1,
        progress=False, metrics=metrics,
    )  # fmt: skip
    return write_report(result, tmp_path_factory.mktemp("browser") / "report")


def _expected_images(report: Path) -> list[Path]:
    """The PNGs the page embeds, in page order: plots first, then the gallery."""
    plots = [report.parent / "plots" / name for name in ("distributions.png", "e_hull.png")]
    return plots + sorted((report.parent / "gallery").glob("*.png"))


def test_report_images_decode_without_errors(chromium: str, report: Path, tmp_path: Path) -> None:
    expected = _expected_images(report)
    assert all(p.is_file() for p in expected) and len(expected) >= 4, expected  # 2 plots + ≥ 2 gallery cells
    page = report.read_text(encoding="utf-8")
    probe = tmp_path / "report_probe.html"
    probe.write_text(page.replace("<head>", "<head>" + _PROBE, 1), encoding="utf-8")
    assert _PROBE in probe.read_text(encoding="utf-8")

    proc = _run_browser(chromium, probe, tmp_path / "profile", "--dump-dom")
    assert _console_messages(proc.stderr) == []
    title = re.search(r"<title>XTALGEN_CHECK(.*?)</title>", proc.stdout, flags=re.S)
    assert title, f"probe did not run; DOM starts with {proc.stdout[:300]!r}"
    check = json.loads(html.unescape(title.group(1)))
    assert check["errors"] == []
    images = check["images"]
    first = ["Generated (valid) vs test distributions (primitive Niggli-reduced cells)", "Energy above hull"]
    assert [im["alt"] for im in images[:2]] == first
    assert len(images) == len(expected)
    for im, png in zip(images, expected, strict=True):
        assert im["complete"] and (im["w"], im["h"]) == _png_size(png), (im, png.name)  # decoded at full size
        assert im["shown_w"] > 100 and im["shown_h"] > 100, im  # laid out, not collapsed


def _colour_fraction(png: Path) -> tuple[float, float]:
    """(std of grey levels, fraction of strongly coloured pixels) of a screenshot."""
    from PIL import Image

    rgb = np.asarray(Image.open(png).convert("RGB"), dtype=np.int16)
    chroma = rgb.max(axis=2) - rgb.min(axis=2)
    return float(rgb.mean(axis=2).std()), float((chroma > 60).mean())


def test_report_screenshot_shows_the_plots(chromium: str, report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    proc = _run_browser(chromium, report, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1400,3600")
    assert _console_messages(proc.stderr) == []
    assert _png_size(shot) == (1400, 3600)
    spread, coloured = _colour_fraction(shot)
    assert spread > 10, spread  # not a blank page
    assert coloured > 0.01, coloured  # the histograms' fills are drawn

    # control: the same page without its images has text and table lines but no coloured pixels
    bare = tmp_path / "report_no_images.html"
    bare.write_text(re.sub(r"<img [^>]*>", "", report.read_text(encoding="utf-8")), encoding="utf-8")
    control = tmp_path / "control.png"
    _run_browser(chromium, bare, tmp_path / "profile2", f"--screenshot={control}", "--window-size=1400,3600")
    assert _colour_fraction(control)[1] < 0.001
