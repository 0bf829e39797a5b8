import sys
from pathlib import Path

# Lets the tests of this folder `import gateway_fakes` (pytest runs with --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).resolve().parent))
