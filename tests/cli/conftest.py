"""The AWS CLI suite reuses the JSON suite's emulator fixture."""

import importlib.util
import os

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python", "conftest.py")
_spec = importlib.util.spec_from_file_location("lockgate_fixtures", SHARED)
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

emulator = _fixtures.emulator
