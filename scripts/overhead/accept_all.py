"""``pyfast`` whose compiler accepts every function statically and compiles none.

Worst case for the probes: every function of the user's code is instrumented, profiled until
it is hot, then decided ("unsupported") so its probes stay as the residual cost.  Usage:
``python accept_all.py [pyfast options] script.py``.
"""

import sys

from pyfast.compiler import api


def prescreen(code):
    return None


def prepare_function(func, signature, *, fallback, miss, code_of=None):
    raise api.Unsupported("overhead benchmark: compiles nothing")


api.prescreen = prescreen
api.prepare_function = prepare_function

from pyfast.launcher.cli import main  # noqa: E402

sys.argv[0] = "pyfast"
sys.exit(main())
