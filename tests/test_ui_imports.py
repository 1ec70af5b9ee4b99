"""The UI process imports no heavy backend: a fresh interpreter imports the app, loads the real
registry (every installed backend plugin), shows every screen, and checks sys.modules."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from jitscope.core.registry import load_registry

# Every module a backend requires, NumPy aside (the workloads need it to describe themselves).
HEAVY = tuple(sorted({m for b in load_registry().backends.values() for m in b.requires} - {"numpy"}))

CHILD = textwrap.dedent(
    """
    import asyncio, json, sys
    import jitscope.ui.app as ui
    from jitscope.core.registry import load_registry

    after_import = sorted(m for m in HEAVY if m in sys.modules)

    async def main():
        app = ui.JitscopeApp(load_registry(), DB, probe=None)
        async with app.run_test(size=(80, 24)) as pilot:
            for key in ("l", "v", "h", "s", "question_mark", "escape"):
                await pilot.press(key)
            await pilot.pause()

    asyncio.run(main())
    after_app = sorted(m for m in HEAVY if m in sys.modules)
    print(json.dumps({"after_import": after_import, "after_app": after_app}))
    """
)


def test_ui_process_imports_no_heavy_backend(tmp_path: Path) -> None:
    code = f"HEAVY = {HEAVY!r}\nDB = {str(tmp_path / 'db.sqlite')!r}\n" + CHILD
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == {"after_import": [], "after_app": []}


FIRST_FRAME_CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from jitscope.ui.app import JitscopeApp

    seen = {}

    class FirstFrame(JitscopeApp):
        def on_ready(self) -> None:
            seen["loaded"] = sorted(m for m in NOT_FOR_THE_FIRST_FRAME if m in sys.modules)
            self.exit(0)

    def load():
        from jitscope.core.registry import load_registry

        return load_registry()

    FirstFrame(load, Path(DB), probe=None).run(headless=True, size=(80, 24))
    print(json.dumps(seen))
    """
)


def test_the_first_frame_needs_no_numpy_registry_plots_or_store(tmp_path: Path) -> None:
    """Issue 10 item 7: what the first frame does not need is loaded after it (timings live
    in benchmarks/ui.py); the registry's loader runs once the frame is out."""
    heavy = ("numpy", "plotext", "sqlite3", "jitscope.core.registry", "jitscope.core.workload", "jitscope.runner.plan",
             "jitscope.plots", "jitscope.results.store", "jitscope.ui.screens.setup_form", *HEAVY)
    code = f"NOT_FOR_THE_FIRST_FRAME = {heavy!r}\nDB = {str(tmp_path / 'db.sqlite')!r}\n" + FIRST_FRAME_CHILD
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"loaded": []}
