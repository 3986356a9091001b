"""The Query-protocol suite reuses the JSON suite's emulator fixtures and checksum helpers."""

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "python")
sys.path.insert(0, SHARED)

_spec = importlib.util.spec_from_file_location("lockgate_fixtures", os.path.join(SHARED, "conftest.py"))
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

emulator = _fixtures.emulator
Emulator = _fixtures.Emulator
sqs = _fixtures.sqs
queue = _fixtures.queue
