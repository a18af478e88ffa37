"""
The session's own requests: 93 (login) and 99 (SC status). Neither goes to
an adapter operation, so neither can be refused as unsupported.
"""

from typing import Any

from twisted.internet.defer import Deferred, succeed

from sip2acs.acs.auth import SIPPassword
from sip2acs.acs.handlers.common import Session
from sip2acs.ils.interfaces import optionalFlag
from sip2acs.sip import codec
from sip2acs.sip.spec import OPERATIONS

__all__ = ["login", "scStatus"]


def login(session: Session, message: Any) -> "Deferred[Any]":
    """
    93: log the SC in through L{Session.authenticate}, or count a failed
    login; the third in a row closes the connection.
    """
    # The message classes are typed type[Message] (built from the spec at
    # import), so mypy does not know their fields.
    if message.uidAlgorithm != "0" or message.pwdAlgorithm != "0":
        session.log.info(
            "login from {peer} with unsupported algorithms; refused",
            peer=session.peer,
        )
        session.loginFailed()
        return succeed(_loginResponse(session, False))
    credentials = SIPPassword(
        message.loginUserId or "",
        message.loginPassword or "",
        session.peer,
        session.listener,
        session.certificateSubject,
    )
    d = session.authenticate(credentials, message.locationCode)
    return d.addCallback(lambda ok: _loginResponse(session, ok))


def _loginResponse(session: Session, ok: bool) -> Any:
    """
    The 94 answering a 93, closing the connection after too many failed
    logins.
    """
    response = codec.LoginResponse(ok=ok)
    if not ok and session.tooManyLoginFailures:
        return (response, True)
    return response


def scStatus(session: Session, message: Any) -> "Deferred[Any]":
    """
    99: remember the SC's printer width and describe what the ACS offers
    it (its institution's, or before login the one that would serve it).
    """
    if message.maxPrintWidth:
        session.maxPrintWidth = message.maxPrintWidth
    if session.institution is not None:
        institution, ils = session.institution, session.ils
    else:
        name = session.institutionBeforeLogin()
        institution, ils = session.server.institutions[name], session.server.ilsFor(name)
    supported = "".join(
        "Y" if ils.supports(operation.name) else "N" for operation in OPERATIONS
    )
    return succeed(
        codec.ACSStatus(
            onlineStatus=optionalFlag(ils, "online"),
            checkinOk=institution.checkin and ils.supports("checkin"),
            checkoutOk=institution.checkout and ils.supports("checkout"),
            renewalPolicy=institution.renewal and ils.supports("renew"),
            statusUpdateOk=institution.statusUpdate and ils.supports("blockPatron"),
            offlineOk=institution.offline,
            timeoutPeriod=round(institution.timeoutPeriod * 10),
            retriesAllowed=institution.retries,
            dateTimeSync=session.now(),
            protocolVersion="2.00",
            institutionId=institution.id,
            libraryName=institution.libraryName,
            supportedMessages=supported,
            terminalLocation=session.terminal.location if session.terminal else None,
        )
    )
