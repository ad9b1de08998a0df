"""Write man/restore.1 from the ``restore`` command tree.

Usage: ``python scripts/gen_man.py`` (writes the page), ``python scripts/gen_man.py --check``
(exits 1 if the committed page is stale). Runs from a checkout without installing the package.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "man" / "restore.1"


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT / "src"))
    from restorecli.cli import app

    sys.path.insert(0, str(Path(__file__).resolve().parent))  # manpage.py lives beside this
    from manpage import render_manpage

    text = render_manpage(app)
    if "--check" in argv:
        current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else None
        if current != text:
            print(f"{PAGE.relative_to(ROOT)} is stale: run `python scripts/gen_man.py`")
            return 1
        return 0
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
