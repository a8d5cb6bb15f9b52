"""gateway.spyne_compat: spyne imports on every supported Python once ``gateway`` is
imported, and the standard modules six aliases keep their own specs. Each check runs in a fresh
interpreter: this one imported spyne long ago."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

CHECK = """
import collections.abc, sys, warnings
warnings.simplefilter("ignore", ImportWarning)  # 3.11: six's importer falls back, and says so
own = collections.abc.__spec__
import gateway
import gateway.spyne_compat
gateway.spyne_compat.install()  # a second time changes nothing
from spyne.server.wsgi import WsgiApplication
from spyne.util.six.moves.collections_abc import MutableSet
from spyne.util.six.moves.urllib.parse import quote
assert MutableSet is collections.abc.MutableSet
assert collections.abc.__spec__ is own, collections.abc.__spec__
finders = [f for f in sys.meta_path if type(f).__name__ == "_SixMovesFinder"]
assert len(finders) == (0 if sys.version_info < (3, 12) else 1), sys.meta_path
print("ok")
"""


def test_spyne_imports_after_gateway_and_standard_modules_keep_their_spec():
    done = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
