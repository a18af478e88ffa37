"""
A throwaway certificate authority for the TLS tests: EC P-256 keys,
certificates with subjectAltNames (service-identity rejects certificates
without them) and a day of validity, all minted when the tests run. Nothing
here is ever committed or reused.
"""

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from twisted.internet import ssl

__all__ = ["CertificateAuthority", "Leaf", "keyPEM", "certificatePEM"]


def keyPEM(key):
    """
    An unencrypted PKCS#8 PEM of C{key}.
    """
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def certificatePEM(*certificates):
    """
    The PEM of one or more certificates, concatenated.
    """
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


def _name(commonName, organization=None, unit=None):
    attributes = []
    if organization is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    if unit is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, commonName))
    return x509.Name(attributes)


class Leaf:
    """
    A certificate and its key.

    @ivar certificate: The C{cryptography} certificate.
    @ivar key: Its private key.
    @ivar chain: Intermediate certificates between it and the root.
    """

    def __init__(self, certificate, key, chain=()):
        self.certificate = certificate
        self.key = key
        self.chain = tuple(chain)

    @property
    def subject(self):
        """
        The subject in RFC 4514 form.
        """
        return self.certificate.subject.rfc4514_string()

    def write(self, directory, name, fullchain=False):
        """
        Write C{name}.pem (the certificate, and the chain after it if
        C{fullchain}) and C{name}.key into C{directory}.

        @return: C{(certificatePath, keyPath)}.
        """
        os.makedirs(directory, exist_ok=True)
        certificatePath = os.path.join(directory, name + ".pem")
        keyPath = os.path.join(directory, name + ".key")
        with open(certificatePath, "wb") as f:
            f.write(
                certificatePEM(self.certificate, *(self.chain if fullchain else ()))
            )
        with open(keyPath, "wb") as f:
            f.write(keyPEM(self.key))
        os.chmod(keyPath, 0o600)
        return certificatePath, keyPath

    def writeChain(self, directory, name):
        """
        Write the chain alone to C{name}.pem in C{directory}.
        """
        path = os.path.join(directory, name + ".pem")
        with open(path, "wb") as f:
            f.write(certificatePEM(*self.chain))
        return path


class CertificateAuthority:
    """
    A root CA (optionally issuing through an intermediate).

    @ivar certificate: The root certificate.
    @ivar key: The root key.
    """

    def __init__(self, name="sip2acs test CA", intermediate=False):
        now = datetime.datetime.now(datetime.timezone.utc)
        self._now = now
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = _name(name, organization="sip2acs tests")
        self.certificate = self._caCertificate(subject, self.key, subject, self.key, None)
        self._issuerCertificate = self.certificate
        self._issuerKey = self.key
        self.chain = ()
        if intermediate:
            key = ec.generate_private_key(ec.SECP256R1())
            cert = self._caCertificate(
                _name(name + " intermediate", organization="sip2acs tests"),
                key,
                self.certificate.subject,
                self.key,
                0,
            )
            self._issuerCertificate, self._issuerKey = cert, key
            self.chain = (cert,)

    def _caCertificate(self, subject, key, issuer, issuerKey, pathLength):
        """
        A CA certificate for C{key}, signed by C{issuerKey}: the root when
        they are the same (no authority key id), else an intermediate.
        """
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._now - datetime.timedelta(hours=1))
            .not_valid_after(self._now + datetime.timedelta(days=1))
            .add_extension(
                x509.BasicConstraints(ca=True, path_length=pathLength), critical=True
            )
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                critical=False,
            )
        )
        if issuerKey is not key:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    issuerKey.public_key()
                ),
                critical=False,
            )
        return builder.sign(issuerKey, hashes.SHA256())

    def issue(
        self,
        commonName,
        dnsNames=("localhost",),
        ipAddresses=("127.0.0.1", "::1"),
        server=True,
        client=False,
        organization="Harbour Street Library",
        unit=None,
        rsa=False,
        notAfter=None,
    ):
        """
        A leaf certificate.

        @param notAfter: When it expires (an aware L{datetime.datetime});
            in a day by default.
        @param server: Usable as a server certificate (SERVER_AUTH).
        @param client: Usable as a client certificate (CLIENT_AUTH).
        @param rsa: Give it a 2048-bit RSA key instead of EC P-256.
        @rtype: L{Leaf}
        """
        if rsa:
            from cryptography.hazmat.primitives.asymmetric import rsa as _rsa

            key = _rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            key = ec.generate_private_key(ec.SECP256R1())
        usages = []
        if server:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        if client:
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        alternatives = [x509.DNSName(name) for name in dnsNames] + [
            x509.IPAddress(ipaddress.ip_address(a)) for a in ipAddresses
        ]
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(commonName, organization, unit))
            .issuer_name(self._issuerCertificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._now - datetime.timedelta(hours=1))
            .not_valid_after(
                self._now + datetime.timedelta(days=1) if notAfter is None else notAfter
            )
            .add_extension(
                x509.BasicConstraints(ca=False, path_length=None), critical=True
            )
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self._issuerKey.public_key()
                ),
                critical=False,
            )
        )
        if alternatives:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(alternatives), critical=False
            )
        certificate = builder.sign(self._issuerKey, hashes.SHA256())
        return Leaf(certificate, key, self.chain)

    def writeCertificate(self, directory, name="ca"):
        """
        Write the root certificate to C{name}.pem in C{directory}.

        @return: Its path.
        """
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, name + ".pem")
        with open(path, "wb") as f:
            f.write(certificatePEM(self.certificate))
        return path

    def trustRoot(self):
        """
        The root as a Twisted trust root, for client options.
        """
        return ssl.trustRootFromCertificates(
            [ssl.Certificate.loadPEM(certificatePEM(self.certificate))]
        )


def clientOptions(authority, hostname="localhost", leaf=None, **extra):
    """
    Client TLS options trusting C{authority}, verifying C{hostname}, and
    presenting C{leaf} as the client certificate if given.

    @param extra: More L{CertificateOptions} keywords (e.g.
        C{lowerMaximumSecurityTo}).
    """
    if leaf is not None:
        extra.update(
            privateKey=leaf.key,
            certificate=leaf.certificate,
            extraCertChain=list(leaf.chain),
        )
    return ssl.optionsForClientTLS(
        hostname, trustRoot=authority.trustRoot(), extraCertificateOptions=extra
    )
