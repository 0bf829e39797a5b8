"""`python -m vitawin_actors.importers ...`: see `cli`."""
import sys

from vitawin_actors.importers.cli import main

sys.exit(main())
