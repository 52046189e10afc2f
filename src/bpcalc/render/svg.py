"""What bpcalc's own SVG pictures share: escaping, text measured by display width, sub/superscripts, a canvas.

Every picture is one self-contained file: generic font families (no web fonts), no links, no scripts."""

from __future__ import annotations

import re
from html import escape

from bpcalc.render.width import display_width

SANS = "DejaVu Sans, Verdana, Arial, Noto Sans CJK KR, sans-serif"
MONO = "DejaVu Sans Mono, Menlo, Consolas, Noto Sans Mono CJK KR, monospace"
INK = "#1f2328"
MUTED = "#59636e"
GRAD = "#c62828"  # gradients: red, as the computational-graph figures draw them
NEW = "#1b5e20"  # values after the update
VALUE = "#0b4f8a"
LINE = "#8c959f"

# a sub/superscript of the layer notation: z_1^(2), w_11^(3), x_k, e^(−z)
_SCRIPT = re.compile(r"_(\{[^}]*\}|[0-9a-zA-Z,]+)|\^(\([^)]*\)|\{[^}]*\}|[0-9a-zA-Z−+-]+(?:\.[0-9]+)?)")
# Unicode's own sub- and superscript characters: plain text every SVG renderer draws (no tspan shifts)
_SUB = dict(zip("0123456789aehijklmnoprstuvx+-−=(),", "₀₁₂₃₄₅₆₇₈₉ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ₊₋₋₌₍₎,"))
_SUP = dict(zip("0123456789abcdefghijklmnoprstuvwxyz+-−=()",
                "⁰¹²³⁴⁵⁶⁷⁸⁹ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻ⁺⁻⁻⁼⁽⁾"))


def esc(s: str) -> str:
    """Text for an SVG element or attribute."""
    return escape(s, quote=True).replace("\x01", "_").replace("\x02", "^")


def literal(s: str) -> str:
    """A name written as it is (a spec's label such as `y_hat`): no sub/superscripts made of its `_` and `^`."""
    return s.replace("_", "\x01").replace("^", "\x02")


def text_width(s: str, size: float) -> float:
    """The width of `s` at font size `size`, estimated generously from its display width (CJK: two columns)."""
    plain = _SCRIPT.sub(lambda m: (m.group(1) or m.group(2) or "").strip("{}"), s)
    return display_width(plain) * size * 0.62


def scripted(s: str, size: float) -> str:
    """`s` with its `_x` and `^(l)` written as sub- and superscripts: Unicode's (z₁⁽²⁾) where it has them, else
    a smaller tspan shifted by dy."""
    out: list[str] = []
    pos = 0
    off = 0.0  # the current shift below the baseline
    small = round(size * 0.72, 1)

    def run(t: str, target: float, attrs: str = "") -> None:
        nonlocal off
        if off == target and not attrs:
            out.append(esc(t))
        else:
            out.append(f'<tspan dy="{target - off:.1f}"{attrs}>{esc(t)}</tspan>')
        off = target

    plain = ""
    for m in _SCRIPT.finditer(s):
        plain += s[pos:m.start()]
        body = (m.group(1) or m.group(2)).strip("{}")
        table = _SUB if m.group(1) is not None else _SUP
        if all(ch in table for ch in body):
            plain += "".join(table[ch] for ch in body)
        else:  # a script Unicode cannot write: shifted and smaller
            if plain:
                run(plain, 0.0)
                plain = ""
            run(body, size * 0.3 if m.group(1) is not None else -size * 0.4, f' font-size="{small}"')
        pos = m.end()
    plain += s[pos:]
    if plain:
        run(plain, 0.0)
    return "".join(out)


def text(x: float, y: float, s: str, size: float = 12, anchor: str = "start", fill: str = INK, weight: str = "",
         family: str = SANS, scripts: bool = True, extra: str = "") -> str:
    """One line of text at (x, y) (baseline); `scripts`: layer notation as sub/superscripts."""
    w = f' font-weight="{weight}"' if weight else ""
    fam = f' font-family="{family}"' if family != SANS else ""
    body = scripted(s, size) if scripts else esc(s)
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{w}{fam}'
            f'{extra}>{body}</text>')


def document(width: float, height: float, body: list[str], title: str, background: str = "#ffffff") -> str:
    """A complete SVG file: size, title, white background, generic fonts."""
    w, h = int(width + 0.999), int(height + 0.999)
    return "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        f'font-family="{SANS}" role="img">',
        f"<title>{esc(title)}</title>",
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="{background}"/>',
        *body,
        "</svg>",
    ]) + "\n"
