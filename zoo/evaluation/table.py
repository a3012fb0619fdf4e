"""Plain-text tables for metric logs (no third-party table package)."""
from __future__ import annotations

import math
from typing import Any, Sequence


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return 'nan' if math.isnan(v) else f'{v:.3f}'
    return str(v)


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]], title: str = '') -> str:
    """A boxed table; floats with three decimals, NaN as ``nan``."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h))
              for i, h in enumerate(header)]
    rule = '+' + '+'.join('-' * (w + 2) for w in widths) + '+'

    def line(values):
        return '| ' + ' | '.join(str(v).rjust(w) if i else str(v).ljust(w)
                                 for i, (v, w) in enumerate(zip(values, widths))) + ' |'

    out = [title] if title else []
    out += [rule, line(header), rule] + [line(r) for r in cells] + [rule]
    return '\n'.join(out)
