"""Write a tree of ~200 ordinary modules (10 packages x 19 modules + 10 ``__init__``) and
``main.py`` that imports them all; used by ``run.py`` to time imports on a warm cache."""

from __future__ import annotations

import os
import sys

PACKAGES = 10
MODULES = 19

MODULE = '''"""Module {p}.{m}: a few functions, a class and a loop, like ordinary library code."""

import os

CONSTANT = {m}


def helper_{m}(x, y=2):
    total = 0
    for i in range(x):
        total += i * y
    return total


def describe(value):
    if isinstance(value, int):
        return "int"
    return type(value).__name__


class Thing{m}:
    kind = "thing"

    def __init__(self, name):
        self.name = name
        self.path = os.path.join("x", name)

    def size(self):
        return len(self.name) + CONSTANT

    @property
    def label(self):
        return f"{{self.kind}}:{{self.name}}"


TABLE = {{k: helper_{m}(k) for k in range(3)}}
'''


def write(root: str) -> str:
    lines = []
    for p in range(PACKAGES):
        package = os.path.join(root, f"pkg{p}")
        os.makedirs(package, exist_ok=True)
        with open(os.path.join(package, "__init__.py"), "w") as file:
            file.write(f'"""Package {p}."""\nNAME = "pkg{p}"\n')
        for m in range(MODULES):
            with open(os.path.join(package, f"mod{m}.py"), "w") as file:
                file.write(MODULE.format(p=p, m=m))
            lines.append(f"import pkg{p}.mod{m}")
    lines.append("import sys")
    lines.append('print(len([m for m in sys.modules if m.startswith("pkg")]), "modules")')
    main = os.path.join(root, "main.py")
    with open(main, "w") as file:
        file.write("\n".join(lines) + "\n")
    return main


if __name__ == "__main__":
    print(write(sys.argv[1]))
