"""Build hook: ship ``pyfast-autoload.pth`` at the root of site-packages.

The ``.pth`` file is what makes ``PYFAST=1 python script.py`` work.  Setuptools has no
declarative way to place a file at the root of the install, so ``build_py`` copies it
into the build directory next to the ``pyfast`` package (regular wheels), and the
editable-wheel build gets it through the same command.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PTH = "pyfast-autoload.pth"


class BuildWithPth(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / PTH
        self.copy_file(str(Path(__file__).parent / "pyfast" / PTH), str(target))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib) / PTH)]


setup(cmdclass={"build_py": BuildWithPth})
