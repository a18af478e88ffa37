"""
The session's own requests: 93 (login) and 99 (SC status). Neither goes to
an adapter operation, so neither can be refused as unsupported.
"""

from typing import Any

from twisted.internet.defer import Deferred, succeed

from sip2acs.acs.handlers.common import Session
from sip2acs.sip import codec
from sip2acs.sip.spec import OPERATIONS

__all__ = ["login", "scStatus"]


def login(session: Session, message: Any) -> "Deferred[Any]":
    """
    93: check the login id and password (through the server) and log the
    SC in, or count a failed login.
    """
    # The message classes are typed type[Message] (built from the spec at
    # import), so mypy does not know their fields.
    refused = codec.LoginResponse(ok=False)
    if message.uidAlgorithm != "0" or message.pwdAlgorithm != "0":
        session.log.info(
            "login from {peer} with unsupported algorithms; refused",
            peer=session.peer,
        )
        return succeed(session._loginFailed(refused))
    login = message.loginUserId or ""
    d = session.server.checkLogin(
        login,
        message.loginPassword or "",
        session.peer,
        listener=session.listener,
        subject=session.certificateSubject,
    )

    def checked(account):
        if account is None:
            session.log.info(
                "{login} from {peer} refused",
                login=session.server.describeLogin(login),
                peer=session.peer,
            )
            return session._loginFailed(refused)
        session.login(account, message.locationCode)
        session.log.info("{login} logged in from {peer}", login=login, peer=session.peer)
        return codec.LoginResponse(ok=True)

    return d.addCallback(checked)


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
            onlineStatus=True,
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
