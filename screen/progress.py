"""How the library reports progress: a plain callback.  Drawing bars is the CLI's job."""

from __future__ import annotations

from collections.abc import Callable

#: on_progress(task, done, total): `task` names the work ("finding people"), `done` the
#: units finished so far, `total` the units expected (None where unknown).
ProgressCallback = Callable[[str, int, "int | None"], None]
