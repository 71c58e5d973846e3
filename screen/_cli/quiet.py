"""Other libraries' banners and warnings stay off the user's terminal unless --verbose.

Set through the environment where a library reads it at import (ultralytics, Paddle's
C++ logging), so `screen batch` workers, started fresh with `spawn`, inherit it too.
"""

from __future__ import annotations

import os
import warnings

#: Python warnings that say nothing a screener can act on, by the module that issues them.
_QUIET_WARNINGS = "ignore::UserWarning:paddle.utils.cpp_extension.extension_utils"


def quiet_third_parties(verbose: bool) -> None:
    """Silence ultralytics' settings banner, Paddle's log lines and its 'No ccache' warning."""
    if verbose:
        return
    os.environ.setdefault("YOLO_VERBOSE", "False")  # ultralytics: settings banner, per-call logs
    os.environ.setdefault("GLOG_minloglevel", "2")  # Paddle's C++ info/warning lines
    os.environ.setdefault("FLAGS_call_stack_level", "0")
    existing = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = f"{existing},{_QUIET_WARNINGS}" if existing else _QUIET_WARNINGS
    warnings.filterwarnings("ignore", category=UserWarning, module=r"paddle\.")
