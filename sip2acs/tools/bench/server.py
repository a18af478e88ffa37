# -*- test-case-name: tests.test_bench -*-
"""
The servers under measurement: C{twistd sip2acs} child processes
configured for the bench's data set, or as a gateway in front of one
(C{--gateway}), each pinned to a core (L{Server}, L{placement}), a throw-away
certificate for TLS runs (L{makeCertificate}), and what /proc says of a
process's CPU time and memory (L{processCPU}, L{processMemory}).
"""

import ipaddress
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime

import sip2acs
from sip2acs.passwords import hashPassword
from sip2acs.tools.bench.data import (
    GATEWAY_LOGIN,
    GATEWAY_PASSWORD,
    INSTITUTION,
    LOGIN,
    PASSWORD,
)
from sip2acs.tools.pgcluster import children, processCPU
from sip2acs.tools.ports import accepts, freePort

__all__ = [
    "CONFIG",
    "GATEWAY_POOL",
    "Server",
    "packageFolder",
    "freePort",
    "makeCertificate",
    "processCPU",
    "processMemory",
    "placement",
    "pinTree",
]

CONFIG = """\
[[listener]]
endpoint = "tcp:{port}:interface=127.0.0.1:backlog=1024"
login-timeout = 600
idle-timeout = 0
{proxy}{tls}
[[institution]]
id = "{institution}"
library-name = "sip2acs bench"
{adapter}

[[account]]
login = "{login}"
password = "{hash}"
institution = "{institution}"
location = "MAIN"
{accounts}"""

GATEWAY_ACCOUNT = """
[[account]]
login = "{login}"
password = "{hash}"
institution = "{institution}"
"""
"""
The upstream's account for the gateway's pool (C{--gateway}).
"""

GATEWAY_POOL = 20
"""
The gateway's C{pool-size} unless C{--gateway-pool} says otherwise.
"""

GATEWAY_ADAPTER = """\
adapter = "sip2"
upstream = "tcp:host=127.0.0.1:port={port}"
upstream-login = "{login}"
upstream-password-file = {passwordFile}
pool-size = {poolSize}"""
"""
The gateway's institution (C{--gateway}): the sip2 adapter, its pool
logged in to the upstream sip2acs as L{GATEWAY_LOGIN}.
"""


def packageFolder() -> str:
    """
    The folder holding this very C{sip2acs} package: the first entry of
    the server's C{PYTHONPATH}, so that it runs the code under measurement
    whatever the working directory.
    """
    return os.path.dirname(os.path.dirname(os.path.abspath(sip2acs.__file__)))


class Server:
    """
    A C{twistd sip2acs} child process pinned to one core.

    @ivar ports: The ports it listens on: the plain listener's, then the
        TLS listener's if there is one.
    @ivar pid: Its process id.
    @ivar log: Its log file, if it has one besides C{errors} (a subclass
        running another server may have none).
    @ivar errors: The file of its standard output and error.
    """

    log: str | None = None

    def __init__(
        self,
        workdir: str,
        database: str | None,
        core: int,
        tls: tuple[str, str] | None = None,
        logger: str = "default",
        memory: tuple[int, int] | None = None,
        passwordFile: str | None = None,
        poolSize: int | None = None,
        upstream: int | None = None,
        gatewayAccount: bool = False,
        proxied: bool = False,
    ) -> None:
        """
        Write the configuration and start the server; return once it
        listens.

        @param workdir: Its folder (configuration, logs), created if missing.
        @param database: The data set (a SQLite path or a PostgreSQL URL),
            used unless C{memory} is given.
        @param core: The core to pin it to; negative: no pinning.
        @param tls: C{(certificate path, key path)} for a TLS listener.
        @param logger: C{"default"} (C{--logfile}: sip2acs's own lines) or
            C{"twistd"} (twistd's own text observer,
            L{sip2acs.ops.observers.twistdText}).
        @param memory: C{(patrons, items)} for the in-memory adapter
            (L{sip2acs.tools.bench.data.benchLibrary}).
        @param passwordFile: PostgreSQL: the institution's
            C{database-password-file}.
        @param poolSize: PostgreSQL: the institution's C{pool-size}; with
            C{upstream}, the gateway's (its upstream connections).
        @param upstream: The port of an upstream sip2acs on loopback: this
            server is a gateway in front of it (the sip2 adapter, logged in
            as L{GATEWAY_LOGIN}), and C{database} and C{memory} are unused.
        @param gatewayAccount: Give this server the account of a gateway's
            upstream login too.
        @param proxied: Its plain listener takes connections from a load
            balancer on loopback, each starting with a PROXY protocol header.
        """
        os.makedirs(workdir, exist_ok=True)
        self.workdir = workdir
        self.core = core
        self.log = os.path.join(workdir, "twistd.log")
        config = os.path.join(workdir, "sip2acs.toml")
        self.ports = [freePort()]
        tlsListener = ""
        if tls is not None:
            self.ports.append(freePort(avoid=self.ports))
            tlsListener = (
                '[[listener]]\nendpoint = "tcp:%d:interface=127.0.0.1:backlog=1024"\n'
                'transport = "tls"\ncertificate = "%s"\nprivate-key = "%s"\n'
                "login-timeout = 600\nidle-timeout = 0\n" % (self.ports[1], *tls)
            )
        if upstream is not None:
            passwordFile = os.path.join(workdir, "upstream.pw")
            with open(passwordFile, "w") as f:
                f.write(GATEWAY_PASSWORD + "\n")
            os.chmod(passwordFile, 0o600)
            adapter = GATEWAY_ADAPTER.format(
                port=upstream, login=GATEWAY_LOGIN, passwordFile=json.dumps(passwordFile),
                poolSize=poolSize if poolSize is not None else GATEWAY_POOL)
        elif memory is None:
            adapter = "database = %s" % (json.dumps(database),)
            if passwordFile is not None:
                adapter += "\ndatabase-password-file = %s" % (
                    json.dumps(os.path.abspath(passwordFile)),)
            if poolSize is not None:
                adapter += "\npool-size = %d" % (poolSize,)
        else:
            adapter = ('adapter = "sip2acs.tools.bench.benchLibrary"\npatrons = %d\nitems = %d'
                       % memory)
        with open(config, "w") as f:
            f.write(CONFIG.format(
                proxy='proxy-protocol = true\nproxy-from = ["127.0.0.1"]\n' if proxied else "",
                adapter=adapter,
                login=LOGIN, institution=INSTITUTION, port=self.ports[0],
                hash=hashPassword(PASSWORD, cost=10), tls=tlsListener,
                accounts=GATEWAY_ACCOUNT.format(
                    login=GATEWAY_LOGIN, institution=INSTITUTION,
                    hash=hashPassword(GATEWAY_PASSWORD, cost=10)) if gatewayAccount else ""))
        logging = ["--logfile=" + self.log]
        env = dict(os.environ)
        # The server must import this very sip2acs, whatever the directory.
        inherited = [os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join([packageFolder()] + inherited)
        if logger == "twistd":
            logging = ["--logger=sip2acs.ops.observers.twistdText"]
            env["SIP2ACS_LOG"] = self.log
        args = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
                "--nodaemon", "--pidfile=", *logging, "sip2acs", "--config", config]
        self._start(args, os.path.join(workdir, "twistd.stderr"), env)

    def _start(self, args: list[str], errors: str,
               env: dict[str, str] | None = None) -> None:
        """
        Run C{args} in C{workdir}, pinned to C{core} (unless negative), its
        output in the file C{errors}, and return once it listens on each of
        C{ports}; stop it if it does not.
        """
        preexec: Callable[[], None] | None = None
        if self.core >= 0 and hasattr(os, "sched_setaffinity"):
            core = self.core
            preexec = lambda: os.sched_setaffinity(0, {core})  # noqa: E731
        self.errors = errors
        with open(errors, "wb") as out:
            self.process = subprocess.Popen(
                args, cwd=self.workdir, env=env, preexec_fn=preexec,
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        self.pid = self.process.pid
        try:
            self._waitForPorts()
        except BaseException:
            self.stop()
            raise

    def _waitForPorts(self, timeout: float = 60) -> None:
        """
        Wait until the server accepts connections on each of its ports.
        """
        deadline = time.monotonic() + timeout
        waiting = list(self.ports)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit("bench: the server exited:\n" + self.output())
            waiting = [port for port in waiting if not accepts(port)]
            if not waiting:
                return
            time.sleep(0.1)
        raise SystemExit("bench: the server did not listen in time:\n" + self.output())

    def output(self) -> str:
        """
        What the server has logged and written to its standard error so far.
        """
        text = ""
        for path in (self.log, self.errors):
            if path is None:
                continue
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    text += f.read()
            except OSError:
                pass
        return text

    def stop(self) -> None:
        """
        Terminate the server (kill it if it takes more than 30 seconds).
        """
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def placement(instances: int, serverCore: int, clientCore: int,
              cores: int | None = None) -> tuple[list[int], str]:
    """
    The core each of C{instances} servers is pinned to: each on a core of
    its own, starting at C{serverCore} and leaving out the load
    generator's C{clientCore}, when there are enough cores; else they
    take the cores left round-robin, sharing them.

    @param serverCore: The first server's core; negative: no pinning.
    @param cores: How many cores the machine has (default: all of them).
    @return: C{(cores, what that means in words)}.
    """
    if serverCore < 0:
        return [-1] * instances, "not pinned"
    count = cores if cores is not None else (os.cpu_count() or 1)
    left = [c for c in range(count) if c != clientCore]
    left = [c for c in left if c >= serverCore] + [c for c in left if c < serverCore]
    if not left:
        left = [serverCore]
    chosen = [left[n % len(left)] for n in range(instances)]
    if instances == 1:
        return chosen, "pinned to core %d" % (chosen[0],)
    if len(left) >= instances:
        return chosen, "each on a core of its own (%s)" % (", ".join(map(str, chosen)),)
    return chosen, (
        "sharing core(s) %s: %d cores, core %d is the load generator's"
        % (", ".join(map(str, sorted(set(chosen)))), count, clientCore))


def pinTree(root: int, core: int) -> None:
    """
    Pin process C{root} and its children to C{core} (the children it
    starts later inherit it): C{--postgres-core}.
    """
    for pid in [root, *children(root)]:
        try:
            os.sched_setaffinity(pid, {core})
        except OSError:
            pass


def processMemory(pid: int) -> tuple[int, int]:
    """
    C{(resident, peak resident)} memory of a process, in bytes.
    """
    values = {}
    with open("/proc/%d/status" % (pid,)) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def makeCertificate(workdir: str) -> tuple[str, str]:
    """
    A throw-away CA and server certificate for 127.0.0.1, for TLS runs.

    @return: C{(certificate path, private key path)}, both PEM files in
        C{workdir}.
    """
    from datetime import timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sip2acs bench")])
    now = datetime.utcnow()
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .sign(key, hashes.SHA256())
    )
    certPath = os.path.join(workdir, "bench-cert.pem")
    keyPath = os.path.join(workdir, "bench-key.pem")
    with open(certPath, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(keyPath, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return certPath, keyPath
