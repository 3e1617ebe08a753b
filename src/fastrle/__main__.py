"""``python -m fastrle``: same as the ``fastrle`` command."""

import sys

from .cli import main

sys.exit(main())
