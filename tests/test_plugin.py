"""
The twistd plugin is discoverable.
"""

from twisted.application.service import IServiceMaker
from twisted.plugin import getPlugins
from twisted.trial.unittest import SynchronousTestCase


class PluginTests(SynchronousTestCase):
    def test_discoverable(self) -> None:
        """
        C{twisted.plugins} offers a service maker with tapname C{sip2acs}
        backed by L{sip2acs.app.tap}.
        """
        makers = {m.tapname: m for m in getPlugins(IServiceMaker)}
        self.assertIn("sip2acs", makers)
        self.assertEqual(makers["sip2acs"].module, "sip2acs.app.tap")
