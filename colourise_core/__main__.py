import sys

from colourise_core.cli import main

sys.exit(main())
