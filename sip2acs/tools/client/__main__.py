"""
C{python -m sip2acs.tools.client}: the same as C{sip2acs client}.
"""

import sys

from sip2acs.tools.client.command import main

sys.exit(main())
