"""``python -m crm_funnel.devtools.bench``: the same as ``funnel-bench``."""

import sys

from crm_funnel.devtools.bench.cli import main

sys.exit(main())
