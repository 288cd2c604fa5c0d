"""Small inline SVG charts for the class report.

Hand-written SVG keeps ``report.html`` one self-contained file that opens offline in any
browser, with no plotting stack (matplotlib and friends would add tens of MB to the grader for
two bar charts). Every label is escaped: test names and hints are the grader's, but student
names are not.
"""

from __future__ import annotations

from html import escape

BAR = "#4c78a8"
WARN = "#e45756"
INK = "#333"


def histogram(counts: list[int], labels: list[str], *, title: str) -> str:
    """Vertical bars: ``counts[i]`` students in bin ``labels[i]``."""
    width, height, pad_left, pad_bottom, pad_top = 640, 240, 40, 40, 24
    plot_w, plot_h = width - pad_left - 10, height - pad_bottom - pad_top
    top = max(counts, default=0) or 1
    slot = plot_w / max(len(counts), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f'<text x="{pad_left}" y="16" fill="{INK}" font-size="13">{escape(title)}</text>',
        f'<line x1="{pad_left}" y1="{pad_top + plot_h}" x2="{width - 10}" '
        f'y2="{pad_top + plot_h}" stroke="{INK}"/>',
    ]
    for i, (n, label) in enumerate(zip(counts, labels)):
        h = plot_h * n / top
        x = pad_left + i * slot + 3
        y = pad_top + plot_h - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot - 6:.1f}" height="{h:.1f}" '
            f'fill="{BAR}"><title>{escape(label)}: {n}</title></rect>'
        )
        if n:
            parts.append(
                f'<text x="{x + (slot - 6) / 2:.1f}" y="{y - 3:.1f}" font-size="11" '
                f'text-anchor="middle" fill="{INK}">{n}</text>'
            )
        parts.append(
            f'<text x="{x + (slot - 6) / 2:.1f}" y="{pad_top + plot_h + 14}" font-size="10" '
            f'text-anchor="middle" fill="{INK}">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def rates(rows: list[tuple[str, float, str]], *, title: str) -> str:
    """Horizontal bars, one per row: (label, fraction 0..1, text shown after the bar)."""
    row_h, label_w, bar_w, pad_top = 18, 420, 220, 24
    width = label_w + bar_w + 90
    height = pad_top + row_h * len(rows) + 6
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f'<text x="0" y="16" fill="{INK}" font-size="13">{escape(title)}</text>',
    ]
    for i, (label, fraction, text) in enumerate(rows):
        y = pad_top + i * row_h
        short = label if len(label) <= 64 else label[:61] + "..."
        colour = WARN if fraction < 0.5 else BAR
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 13}" font-size="11" text-anchor="end" '
            f'fill="{INK}">{escape(short)}<title>{escape(label)}</title></text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="{row_h - 6}" fill="#eee"/>'
            f'<rect x="{label_w}" y="{y + 3}" width="{bar_w * fraction:.1f}" '
            f'height="{row_h - 6}" fill="{colour}"/>'
            f'<text x="{label_w + bar_w + 6}" y="{y + 13}" font-size="11" '
            f'fill="{INK}">{escape(text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
