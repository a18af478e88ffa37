"""
Tests for the fast paths of L{sip2acs.sip.codec} and L{sip2acs.sip.fields}:
the per-message plans, the remembered dates, the plain-ASCII shortcuts of
the cleaning and the counts written without arithmetic give exactly what
the general code gives.

The general code is kept here as the oracle (L{_Reference}): the codec as
it was before the plans, written plainly from the table. Random messages of
every kind of the table, in several encodings and with several delimiters,
are encoded by both and must give the same bytes; random frames (those
bytes, cut, mangled and checksummed) are decoded by both and must give the
same message, field order, sequence and checksum, or the same error.
"""

import random
import re
import unicodedata
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
from twisted.trial.unittest import SynchronousTestCase

from sip2acs.sip import codec, fields, spec, success

# -- the oracle ---------------------------------------------------------------


class _Reference:
    """
    The codec before the plans: every value through one general function
    per step, nothing remembered, nothing taken as a shortcut.
    """

    UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

    # The dates without the memory of them: the general code as it is.
    parseDate = staticmethod(fields._parseDate)

    def formatDate(self, value: datetime | None) -> str:
        return " " * 18 if value is None else fields._formatDate(value)

    def parseValue(self, kind: str, text: str) -> Any:
        if kind == "text":
            return text
        if kind == "ok":
            return text == "1"
        if kind == "yn":
            return text == "Y" if text in ("Y", "N") else None
        if kind == "ynu":
            return {"Y": True, "N": False}.get(text)
        if kind == "date":
            return self.parseDate(text)
        if kind == "int":
            text = text.strip()
            return int(text) if text.isascii() and text.isdigit() else None
        raise AssertionError(kind)

    def parseFixed(self, field: spec.FixedField, text: str) -> Any:
        if field.kind == "yn":
            return text == "Y"
        return self.parseValue(field.kind, text)

    def cleanText(self, value: str, encoding: str, delimiter: str) -> str:
        if not value.isascii() and encoding == "ascii":
            decomposed = unicodedata.normalize("NFKD", value)
            value = "".join(c for c in decomposed if not unicodedata.combining(c))
        if delimiter in value or self.UNSAFE.search(value) is not None:
            value = self.UNSAFE.sub(" ", value).replace(delimiter, " ")
        return value

    def fitField(self, value: str, encoding: str, delimiter: str) -> str:
        return fields._truncate(self.cleanText(value, encoding, delimiter), encoding)

    # Not changed by the plans: the codec's own.
    splitField = staticmethod(fields.splitField)

    def formatFixed(
        self, field: spec.FixedField, value: Any, encoding: str, delimiter: str
    ) -> str:
        kind, length = field.kind, field.length
        if kind == "text":
            return self.cleanText(value or "", encoding, delimiter).ljust(length)[:length]
        if kind == "ok":
            return "1" if value else "0"
        if kind == "yn":
            return "Y" if value else "N"
        if kind == "ynu":
            return "U" if value is None else ("Y" if value else "N")
        if kind == "date":
            return self.formatDate(value)
        if kind == "int":
            if value is None:
                return " " * length
            return str(min(max(int(value), 0), 10**length - 1)).zfill(length)
        raise AssertionError(kind)

    def formatVariable(self, info: spec.FieldInfo, value: Any) -> str:
        kind = info.kind
        if kind == "text":
            return str(value)
        if kind == "yn":
            return "Y" if value else "N"
        if kind == "date":
            return self.formatDate(value)
        if kind == "int":
            text = str(max(int(value), 0))
            return text.zfill(info.width)[-info.width :] if info.width else text
        raise AssertionError(kind)

    def decode(self, frame: bytes, encoding: str, delimiter: str) -> codec.Decoded:
        frame = frame.strip(b"\r\n")
        if len(frame) < 2:
            raise codec.MalformedMessage("frame too short: %r" % (frame,))
        code = frame[:2].decode("ascii", "replace")
        try:
            cls = codec.messageClass(code)
        except KeyError:
            raise codec.UnknownMessage(
                "unknown command identifier %r" % (code,), code
            ) from None
        # The trailer (AY, AZ) is read by the codec's own general code.
        frame, sequence, sent = codec._trailer(frame, code, encoding, delimiter)
        text = frame.decode(encoding, "replace")
        messageSpec = cls.spec
        values: dict[str, Any] = {}
        position = 2
        fixedLength = sum(field.length for field in messageSpec.fixed)
        if (
            code in codec.FIXED_PART_OPTIONAL
            and delimiter in text[2 : 2 + fixedLength]
            and text[2:4] in messageSpec.fields
        ):
            values = {field.name: None for field in messageSpec.fixed}
        else:
            for field in messageSpec.fixed:
                chunk = text[position : position + field.length]
                if len(chunk) < field.length:
                    raise codec.MalformedMessage(
                        "%s is too short for its fixed field %s" % (code, field.name),
                        code,
                    )
                values[field.name] = self.parseFixed(field, chunk)
                position += field.length
        order: list[str] = []
        extra: list[tuple[str, str]] = []
        repeated: dict[str, list[str]] = {}
        segments = text[position:].split(delimiter)
        for number, segment in enumerate(segments):
            if segment == "" and number == len(segments) - 1:
                break  # after the last delimiter
            if not segment[1:]:
                order.append("")  # an empty or stray field
                continue
            fid, raw = segment[:2], segment[2:]
            info = spec.FIELDS[fid] if fid in messageSpec.fields else None
            if info is None:
                extra.append((fid, raw))
                order.append(fid)
            elif info.repeatable:
                repeated.setdefault(info.name, []).append(raw)
                order.append(fid)
            elif info.name not in values:  # else a duplicate: the first one wins
                values[info.name] = self.parseValue(info.kind, raw)
                order.append(fid)
        values.update(repeated)
        return codec.Decoded(cls(extra=extra, order=tuple(order), **values), sequence, sent)

    def encode(
        self,
        message: codec.Message,
        sequence: int | None,
        checksum: bool,
        encoding: str,
        delimiter: str,
    ) -> bytes:
        messageSpec = message.spec
        parts = [messageSpec.code]
        for field in messageSpec.fixed:
            parts.append(
                self.formatFixed(field, getattr(message, field.name), encoding, delimiter)
            )
        if message.order is not None or message.extra:
            # A decoded message: the codec's general code, as it is.
            codec._appendOrdered(parts, message, encoding, delimiter)
        else:
            for fid in messageSpec.fields:
                info = spec.FIELDS[fid]
                value = getattr(message, info.name)
                if info.repeatable:
                    for each in value:
                        for piece in self.splitField(
                            self.cleanText(each, encoding, delimiter), encoding
                        ):
                            parts.append(fid + piece + delimiter)
                elif value is not None:
                    value = self.fitField(
                        self.formatVariable(info, value), encoding, delimiter
                    )
                    parts.append(fid + value + delimiter)
                elif fid in messageSpec.required:
                    parts.append(fid + delimiter)
        trailer = ""
        if sequence is not None or checksum:
            trailer = ("" if sequence is None else "AY%d" % (sequence % 10,)) + "AZ"
        data = ("".join(parts) + trailer).encode(encoding, "replace")
        return data + codec.checksum(data).encode("ascii") if trailer else data


REFERENCE = _Reference()

ENCODINGS = ("ascii", "latin-1", "cp850", "utf-8")
DELIMITERS = ("|", "^", "\t", "A")


# -- random values of the table's kinds ----------------------------------------

_PIECES = [
    "Ada",
    "Quillfeather",
    " ",
    "  ",
    "0",
    "123",
    "|",
    "^",
    "\t",
    "\r\n",
    "\x00",
    "\x7f",
    "\x85",
    "\u2028",
    "é",
    "Ü",
    "ß",
    "漢字",
    "🙂",
    "AZ",
    "AY1",
    "AZ1",
    "AO",
    "A",
]


def _text(rng: random.Random) -> str:
    """
    Text of every sort a value may be: plain ASCII mostly, sometimes with
    delimiters, control characters, accents, other scripts, or long.
    """
    roll = rng.random()
    if roll < 0.4:
        return "".join(
            rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefgh0123456789 .-")
            for _ in range(rng.randint(0, 20))
        )
    if roll < 0.9:
        return "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 8)))
    # Long enough to be cut or split (255 bytes), with or without spaces.
    word = rng.choice(["x", "é", "word ", "漢 ", "ab|"])
    return word * rng.randint(50, 300)


_ZONES = [
    None,
    timezone.utc,
    timezone(timedelta(hours=3)),
    timezone(timedelta(hours=-7)),
    timezone(timedelta(hours=5, minutes=30)),
]


def _date(rng: random.Random) -> datetime | None:
    if rng.random() < 0.15:
        return None
    return datetime(
        rng.randint(1, 9999),
        rng.randint(1, 12),
        rng.randint(1, 28),
        rng.randint(0, 23),
        rng.randint(0, 59),
        rng.randint(0, 59),
        rng.choice([0, 0, 123456]),
        tzinfo=rng.choice(_ZONES),
    )


def _count(rng: random.Random) -> Any:
    return rng.choice(
        [None, 0, 1, 7, 42, 999, 1000, 9999, 10000, 123456, -1, True, "12", 3.9]
    )


def _fixedValue(rng: random.Random, field: spec.FixedField) -> Any:
    kind = field.kind
    if kind == "text":
        return rng.choice([None, "", _text(rng), "x" * field.length])
    if kind in ("ok", "yn"):
        return rng.choice([True, False, None])
    if kind == "ynu":
        return rng.choice([True, False, None])
    if kind == "date":
        return _date(rng)
    if kind == "int":
        return _count(rng)
    raise AssertionError(kind)


def _variableValue(rng: random.Random, info: spec.FieldInfo) -> Any:
    if info.repeatable:
        return tuple(_text(rng) for _ in range(rng.choice([0, 0, 1, 2, 3])))
    if rng.random() < 0.5:
        return None
    kind = info.kind
    if kind == "text":
        return _text(rng)
    if kind == "yn":
        return rng.choice([True, False])
    if kind == "date":
        return _date(rng)
    if kind == "int":
        return rng.choice([0, 5, 42, 9999, 12345, -3, "17"])
    raise AssertionError(kind)


def randomMessage(rng: random.Random, messageSpec: spec.MessageSpec) -> codec.Message:
    """
    A message of C{messageSpec} with random values; sometimes with extra
    fields and a field order (as a decoded message has).
    """
    values: dict[str, Any] = {}
    for field in messageSpec.fixed:
        values[field.name] = _fixedValue(rng, field)
    for fid in messageSpec.fields:
        info = spec.FIELDS[fid]
        values[info.name] = _variableValue(rng, info)
    if rng.random() < 0.3:
        values["extra"] = [
            (rng.choice(["ZZ", "XY", "AO", "A|", "\x00Q", "é1"]), _text(rng))
            for _ in range(rng.randint(1, 3))
        ]
    if rng.random() < 0.3:
        ids = list(messageSpec.fields) + ["", "ZZ", "XY"]
        values["order"] = tuple(rng.choice(ids) for _ in range(rng.randint(0, 6)))
    return codec.messageClass(messageSpec.code)(**values)


def _cases(
    seed: int, rounds: int = 40
) -> Iterator[tuple[random.Random, codec.Message, str, str]]:
    """
    C{rounds} random messages of every message of the table, each with an
    encoding and a delimiter, and the random generator that made them.
    """
    rng = random.Random(seed)
    for _ in range(rounds):
        for messageSpec in spec.MESSAGES:
            message = randomMessage(rng, messageSpec)
            yield rng, message, rng.choice(ENCODINGS), rng.choice(DELIMITERS)


def _mangle(rng: random.Random, frame: bytes) -> bytes:
    """
    C{frame}, sometimes cut, mangled or grown by the things kiosks send.
    """
    roll = rng.random()
    if roll < 0.4 or len(frame) < 3:
        return frame
    if roll < 0.55:
        return frame[: rng.randint(0, len(frame))]
    if roll < 0.7:
        position = rng.randint(2, len(frame))
        stray = rng.choice([b"|", b"||", b"AZ", b"AY3", b"AOX|", b"\xff", b"AZ12"])
        return frame[:position] + stray + frame[position:]
    if roll < 0.8:
        # A short or lower-case checksum of the frame as it stands.
        body = frame + rng.choice([b"", b"|", b"AY4"]) + b"AZ"
        digits = "%X" % (-sum(body) & 0xFFFF,)
        if rng.random() < 0.5:
            digits = digits.lower()
        return body + digits.encode("ascii")
    if roll < 0.9:
        return frame + rng.choice([b"|||", b"\r\n", b"ZZvendor|", b"AOagain|"])
    data = bytearray(frame)
    data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def _outcome(decode: Any, frame: bytes, encoding: str, delimiter: str) -> Any:
    """
    What decoding C{frame} gives: the decoded frame with its message's
    field order (not part of equality), or the error's type, reason and
    code.
    """
    try:
        decoded = decode(frame, encoding, delimiter)
    except codec.SIP2Error as e:
        return (type(e), e.reason, e.code)
    return (decoded, decoded.message.order, type(decoded.message))


class PlansAgreeWithTheReferenceTests(SynchronousTestCase):
    """
    The planned L{codec.encode} and L{codec.decode} give, value for value
    and byte for byte, what the general code gives.
    """

    def assertDecodesAlike(self, frame: bytes, encoding: str, delimiter: str) -> None:
        """
        L{codec.decode} and the reference give the same outcome for
        C{frame}.
        """
        self.assertEqual(
            _outcome(codec.decode, frame, encoding, delimiter),
            _outcome(REFERENCE.decode, frame, encoding, delimiter),
            (frame, encoding, delimiter),
        )

    def test_encode(self) -> None:
        """
        Random messages of every kind encode to the same bytes, in every
        encoding, with every delimiter, with and without error detection.
        """
        for rng, message, encoding, delimiter in _cases(14):
            sequence = rng.choice([None, None, 0, 7, 12])
            checksum = rng.random() < 0.5
            expected = REFERENCE.encode(message, sequence, checksum, encoding, delimiter)
            self.assertEqual(
                codec.encode(
                    message,
                    sequence=sequence,
                    checksum=checksum,
                    encoding=encoding,
                    delimiter=delimiter,
                ),
                expected,
                (message, encoding, delimiter),
            )

    def test_decode(self) -> None:
        """
        Random frames (random messages encoded, then sometimes cut, mangled
        or checksummed) decode to the same message, field order, sequence
        and checksum, or fail with the same error.
        """
        for rng, message, encoding, delimiter in _cases(1414):
            frame = REFERENCE.encode(
                message, rng.choice([None, 3]), rng.random() < 0.3, encoding, delimiter
            )
            self.assertDecodesAlike(_mangle(rng, frame), encoding, delimiter)

    def test_decodeGarbage(self) -> None:
        """
        Random bytes after a valid command identifier decode alike.
        """
        rng = random.Random(41)
        codes = [messageSpec.code.encode("ascii") for messageSpec in spec.MESSAGES]
        alphabet = b"AZYO019|^ \r\n\xc3\xa9\xff"
        for _ in range(2000):
            frame = rng.choice(codes + [b"", b"9", b"XX"]) + bytes(
                rng.choice(alphabet) for _ in range(rng.randint(0, 60))
            )
            encoding = rng.choice(ENCODINGS)
            delimiter = rng.choice(DELIMITERS[:2])
            self.assertDecodesAlike(frame, encoding, delimiter)

    def test_decodeRoundTrip(self) -> None:
        """
        The frames of built messages (fields in the spec's order) decode
        alike, and the decoded message re-encodes to the same bytes.
        """
        rng = random.Random(7)
        for _ in range(20):
            for messageSpec in spec.MESSAGES:
                message = attrs.evolve(
                    randomMessage(rng, messageSpec), order=None, extra=()
                )
                frame = codec.encode(message, sequence=rng.randint(0, 9))
                decoded = codec.decode(frame)
                self.assertDecodesAlike(frame, "ascii", "|")
                self.assertEqual(
                    codec.encode(decoded.message, sequence=decoded.sequence), frame
                )


class RememberedDatesTests(SynchronousTestCase):
    """
    L{fields.parseDate} and L{fields.formatDate} remember what they did
    lately; what they give does not depend on it.
    """

    def test_parseDateAgain(self) -> None:
        """
        A date read again is the same value as read the first time, for
        naive, zoned, blank and impossible dates, and after the memory is
        emptied.
        """
        texts = [
            "20250314    101500",
            "20250314   Z101500",
            "20250314   a101500",
            "20250314  -5101500",
            "20250231    101500",
            " " * 18,
            "2025031     101500",
            "2025031\u0663    101500",
            "x" * 18,
            "",
        ]
        for _ in range(2):
            for text in texts:
                self.assertEqual(fields.parseDate(text), REFERENCE.parseDate(text), text)
                self.assertEqual(
                    fields.parseDate(text) and fields.parseDate(text).tzinfo,
                    REFERENCE.parseDate(text) and REFERENCE.parseDate(text).tzinfo,
                )
        for index in range(fields._CACHE_MAX * 2):
            text = "2025%04d    %06d" % (index % 1231 + 1, index)
            self.assertEqual(fields.parseDate(text), REFERENCE.parseDate(text))
        self.assertLessEqual(len(fields._PARSED), fields._CACHE_MAX)

    def test_formatDateEqualInstants(self) -> None:
        """
        Equal datetimes that are written differently (the same instant in
        two zones; naive and aware) are each written as their own.
        """
        naive = datetime(2025, 3, 14, 10, 15)
        utc = datetime(2025, 3, 14, 10, 15, tzinfo=timezone.utc)
        plusOne = datetime(2025, 3, 14, 11, 15, tzinfo=timezone(timedelta(hours=1)))
        odd = datetime(2025, 3, 14, 15, 45, tzinfo=timezone(timedelta(hours=5, minutes=30)))
        self.assertEqual(utc, plusOne)
        for _ in range(2):
            for value in (naive, utc, plusOne, odd, naive.replace(microsecond=5)):
                self.assertEqual(fields.formatDate(value), REFERENCE.formatDate(value))
        self.assertEqual(fields.formatDate(plusOne), "20250314   A111500")
        self.assertEqual(fields.formatDate(utc), "20250314   Z101500")

    def test_formatDateSubclass(self) -> None:
        """
        A subclass of datetime is written by its own methods, never from
        what a plain datetime equal to it was written as.
        """

        class Shifted(datetime):
            def utcoffset(self) -> timedelta | None:
                return timedelta(hours=2)

        plain = datetime(2025, 3, 14, 10, 15)
        shifted = Shifted(2025, 3, 14, 10, 15)
        self.assertEqual(fields.formatDate(plain), "20250314    101500")
        self.assertEqual(fields.formatDate(shifted), REFERENCE.formatDate(shifted))
        self.assertEqual(fields.formatDate(shifted), "20250314   B101500")

    def test_formatDateRandom(self) -> None:
        """
        Random datetimes, each written twice, are written as the reference
        writes them, also past the memory's size.
        """
        rng = random.Random(3)
        for _ in range(fields._CACHE_MAX * 2):
            value = _date(rng)
            for _ in range(2):
                self.assertEqual(fields.formatDate(value), REFERENCE.formatDate(value))
        self.assertLessEqual(len(fields._FORMATTED), fields._CACHE_MAX)


class ShortcutTests(SynchronousTestCase):
    """
    The shortcuts of the cleaning and of the counts give what the general
    code gives.
    """

    def test_printableIsSafeForASCII(self) -> None:
        """
        For ASCII, C{str.isprintable} is exactly "nothing of the unsafe
        characters", which the shortcuts rely on.
        """
        for code in range(128):
            character = chr(code)
            self.assertEqual(
                character.isprintable(),
                REFERENCE.UNSAFE.search(character) is None,
                code,
            )

    def test_cleanAndFit(self) -> None:
        """
        L{fields.cleanText}, L{fields.fitField} and L{fields.splitField}
        give what the reference gives for random texts, encodings and
        delimiters.
        """
        rng = random.Random(5)
        for _ in range(3000):
            value = _text(rng)
            encoding = rng.choice(ENCODINGS)
            delimiter = rng.choice(DELIMITERS)
            self.assertEqual(
                fields.cleanText(value, encoding, delimiter),
                REFERENCE.cleanText(value, encoding, delimiter),
            )
            self.assertEqual(
                fields.fitField(value, encoding, delimiter),
                REFERENCE.fitField(value, encoding, delimiter),
            )
            cleaned = fields.cleanText(value, encoding, delimiter)
            self.assertEqual(
                fields.splitField(cleaned, encoding),
                REFERENCE.splitField(cleaned, encoding),
            )

    def test_counts(self) -> None:
        """
        Fixed counts are written as C{min(max(int(value), 0), 10**length -
        1)}, zero-padded, for every kind of value a caller may give.
        """
        rng = random.Random(9)
        values = [None, True, False, 0, 1, -5, 9, 10, 999, 1000, 9999, 10000, 10**30]
        values += ["12", " 7", 3.7, -0.5]
        values += [rng.randint(-(10**6), 10**6) for _ in range(2000)]
        for value in values:
            for length in (1, 3, 4):
                field = spec.FixedField("count", length, "int")
                self.assertEqual(
                    fields.formatFixed(field, value),
                    REFERENCE.formatFixed(field, value, "ascii", "|"),
                    (value, length),
                )

    def test_flags(self) -> None:
        """
        Every message class's success flag, found once, is the one
        L{hasattr} finds; a stand-in object's is looked up on it.
        """
        for messageSpec in spec.MESSAGES:
            cls = codec.messageClass(messageSpec.code)
            self.assertEqual(
                success._FLAG_OF[cls],
                next((name for name in success.FLAGS if hasattr(cls(), name)), None),
            )

        @attrs.frozen
        class StandIn:
            ok: bool = False

        self.assertFalse(success.succeeded(StandIn()))
        self.assertTrue(success.succeeded(StandIn(ok=True)))
