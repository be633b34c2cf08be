"""``python -m cnnviz``."""
import sys

from cnnviz.cli import main

sys.exit(main())
