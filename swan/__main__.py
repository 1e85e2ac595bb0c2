import sys

from swan.cli import main

sys.exit(main())
