"""``python -m crm_funnel.devtools.generate``: the same as ``funnel-generate``."""

import sys

from crm_funnel.devtools.generate.cli import main

sys.exit(main())
