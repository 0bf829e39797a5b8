"""The deploy tests share helpers (tests/deploy/ops.py): this folder is importable from them."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
