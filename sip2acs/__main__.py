"""
C{python -m sip2acs}: the C{sip2acs} command (see L{sip2acs.tools.cli}).
"""

import sys

from sip2acs.tools.cli import main

if __name__ == "__main__":
    sys.exit(main())
