"""
Reading Koha's C{SIPconfig.xml} and Evergreen's C{oils_sip.xml}: the
parts behind L{sip2acs.config.xml}, which is the public face (import
from there, not from here).

  - L{report <sip2acs.config.xmlimport.report>}: the L{Report
    <sip2acs.config.xmlimport.report.Report>} of one reading (the tables
    built, where each came from, the problems, warnings and notes located
    in the file) and the small value readers;
  - L{document <sip2acs.config.xmlimport.document>}: parsing the bytes,
    the walk through an C{<acsconfig>} tree, and locating the problems
    L{parseConfig <sip2acs.config.toml.parseConfig>} finds;
  - L{listeners <sip2acs.config.xmlimport.listeners>}: a C{<service>} and
    its endpoint;
  - L{accounts <sip2acs.config.xmlimport.accounts>}: C{<institution>}s
    (with their C{<policy>} and C{<implementation_config>}) and
    C{<login>}s, which inherit from their institution;
  - L{options <sip2acs.config.xmlimport.options>}: Koha's per-login
    options and Evergreen's C{<options>} as per-account behaviour keys;
  - L{toolkit <sip2acs.config.xmlimport.toolkit>}: Koha's Template
    Toolkit field templates translated into sip2acs's templates.

Imports flow one way: document -> listeners, accounts -> options ->
toolkit, report.
"""
