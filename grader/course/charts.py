"""The overview page's two charts, drawn by matplotlib as inline SVG (no file, nothing fetched).

matplotlib is imported here only, when pages are built, with the Agg backend (no display needed).
Text is drawn as paths, so the page needs no font. Only numbers and the spec's check names reach a chart.
"""

from __future__ import annotations

import io
import re


def warm_up() -> None:
    """Import matplotlib in a background thread while the batch grades (its import is most of the pages'
    cost, and the batch's own process mostly waits for its workers). Call it after the workers are
    forked: a fork while another thread imports would copy a half-imported module."""
    import threading

    global _importing
    _importing = threading.Thread(target=_import_matplotlib, name="import matplotlib", daemon=True)
    _importing.start()


def settled() -> None:
    """Wait for `warm_up`'s import, if one is running: before the batch forks a worker anew, and before
    drawing (matplotlib is not to be used by two threads at once)."""
    import threading

    if _importing is not None and _importing is not threading.current_thread():
        _importing.join()


_importing = None


def _import_matplotlib() -> None:
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.backends.backend_svg  # noqa: F401  (savefig's format="svg" loads it)
        import matplotlib.figure  # noqa: F401

        fig, ax = _figure(1, 1)  # the first drawing loads the fonts: half a second, done here too
        ax.bar([0], [1])
        _svg(fig, "warm-up")
    except Exception:  # the pages will say what is wrong when they import it themselves
        pass


def _figure(width: float, height: float):
    """A figure without pyplot (whose import costs more than drawing both charts): no global state,
    nothing to close, the SVG canvas chosen by savefig's format."""
    settled()
    import matplotlib

    matplotlib.use("Agg", force=True)
    matplotlib.rcParams.update({"svg.fonttype": "path", "svg.hashsalt": "grader", "font.size": 9})
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.add_subplot()


def _svg(fig, title: str) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    svg = text[text.index("<svg"):]  # drop the XML prolog and doctype: it sits inside HTML
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)  # Dublin Core boilerplate
    return svg.replace("<svg ", f'<svg role="img" aria-label="{title}" ', 1)


def histogram(scores: list[float], max_score: float) -> str:
    """Students per score: one bar per point (or per 1/20 of the maximum when it is large)."""
    fig, ax = _figure(5.2, 2.6)
    top = max([max_score, *scores, 1.0])
    width = 1.0 if top <= 40 else top / 20
    edges = [i * width - width / 2 for i in range(int(top / width) + 2)]
    ax.hist(scores, bins=edges, color="#4c72b0", edgecolor="white")
    ax.set_xlabel("score")
    ax.set_ylabel("students")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig, "score histogram")


def pass_rates(rates: dict[str, float]) -> str:
    """The share of the class passing each check, one horizontal bar per check, in the spec's order."""
    names = list(rates)
    fig, ax = _figure(5.2, 0.25 * len(names) + 0.8)
    ax.barh(range(len(names)), [100 * rates[n] for n in names], color="#55a868")
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of students passing")
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig, "pass rate per check")
