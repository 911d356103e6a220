"""A deliberately small, hand-written Kafka wire-protocol client.

It exists so that tests can send exactly the bytes they want (including
malformed ones) and read back raw error codes, without a client library
"helpfully" validating or retrying.  Only the handful of requests the
protocol tests need are implemented: ApiVersions, CreateTopics, Produce and
Metadata, each in both the classic and the "flexible" (KIP-482) encoding.

Every socket operation is bounded by a timeout.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field

# API keys
PRODUCE = 0
FETCH = 1
LIST_OFFSETS = 2
METADATA = 3
API_VERSIONS = 18
CREATE_TOPICS = 19
CREATE_PARTITIONS = 37

# Error codes (subset)
NONE = 0
CORRUPT_MESSAGE = 2
MESSAGE_TOO_LARGE = 10
INVALID_TOPIC_EXCEPTION = 17
UNSUPPORTED_VERSION = 35
TOPIC_ALREADY_EXISTS = 36

# First version of each API that uses the flexible encoding.
FLEXIBLE_FROM = {
    PRODUCE: 9,
    METADATA: 9,
    API_VERSIONS: 3,
    CREATE_TOPICS: 5,
    CREATE_PARTITIONS: 2,
}

# Versions this module can encode/decode (inclusive ranges).
SUPPORTED = {
    PRODUCE: (3, 12),
    METADATA: (1, 12),
    API_VERSIONS: (0, 4),
    CREATE_TOPICS: (2, 7),
    CREATE_PARTITIONS: (0, 3),
}


class ProtocolError(Exception):
    pass


# --------------------------------------------------------------------------
# CRC-32C (Castagnoli), needed for record batches.  Table driven, pure Python.
# --------------------------------------------------------------------------

def _make_crc32c_table():
    poly = 0x82F63B78
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C_TABLE = _make_crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _CRC32C_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# --------------------------------------------------------------------------
# Primitive encoders / decoders
# --------------------------------------------------------------------------

def _uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _varint(n: int) -> bytes:
    """Signed zig-zag varint (32 or 64 bit, same encoding)."""
    return _uvarint((n << 1) ^ (n >> 63))


class Writer:
    def __init__(self, flexible: bool = False):
        self.flexible = flexible
        self.buf = bytearray()

    def raw(self, b: bytes) -> "Writer":
        self.buf += b
        return self

    def int8(self, v):
        return self.raw(struct.pack(">b", v))

    def int16(self, v):
        return self.raw(struct.pack(">h", v))

    def int32(self, v):
        return self.raw(struct.pack(">i", v))

    def int64(self, v):
        return self.raw(struct.pack(">q", v))

    def boolean(self, v):
        return self.raw(b"\x01" if v else b"\x00")

    def uvarint(self, v):
        return self.raw(_uvarint(v))

    def string(self, s):
        if s is None:
            if self.flexible:
                return self.uvarint(0)
            return self.int16(-1)
        data = s.encode("utf-8") if isinstance(s, str) else bytes(s)
        if self.flexible:
            self.uvarint(len(data) + 1)
        else:
            self.int16(len(data))
        return self.raw(data)

    def bytes_(self, b):
        if b is None:
            if self.flexible:
                return self.uvarint(0)
            return self.int32(-1)
        if self.flexible:
            self.uvarint(len(b) + 1)
        else:
            self.int32(len(b))
        return self.raw(b)

    def array(self, items, fn):
        if items is None:
            if self.flexible:
                return self.uvarint(0)
            return self.int32(-1)
        if self.flexible:
            self.uvarint(len(items) + 1)
        else:
            self.int32(len(items))
        for it in items:
            fn(self, it)
        return self

    def tags(self):
        """Empty tagged-field section (flexible versions only)."""
        if self.flexible:
            self.uvarint(0)
        return self

    def getvalue(self) -> bytes:
        return bytes(self.buf)


class Reader:
    def __init__(self, data: bytes, flexible: bool = False):
        self.data = data
        self.pos = 0
        self.flexible = flexible

    def _take(self, n):
        if self.pos + n > len(self.data):
            raise ProtocolError(
                f"response truncated: wanted {n} bytes at {self.pos}, have {len(self.data)}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def int8(self):
        return struct.unpack(">b", self._take(1))[0]

    def int16(self):
        return struct.unpack(">h", self._take(2))[0]

    def int32(self):
        return struct.unpack(">i", self._take(4))[0]

    def int64(self):
        return struct.unpack(">q", self._take(8))[0]

    def boolean(self):
        return self._take(1) != b"\x00"

    def uuid(self):
        return self._take(16)

    def uvarint(self):
        shift = 0
        result = 0
        while True:
            b = self._take(1)[0]
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise ProtocolError("varint too long")

    def string(self):
        if self.flexible:
            n = self.uvarint() - 1
        else:
            n = self.int16()
        if n < 0:
            return None
        return self._take(n).decode("utf-8", "replace")

    def bytes_(self):
        if self.flexible:
            n = self.uvarint() - 1
        else:
            n = self.int32()
        if n < 0:
            return None
        return self._take(n)

    def array(self, fn):
        if self.flexible:
            n = self.uvarint() - 1
        else:
            n = self.int32()
        if n < 0:
            return None
        return [fn(self) for _ in range(n)]

    def topics(self, read_partition):
        """The common response shape: an array of (topic name, [partition])
        where each partition is read by `read_partition`."""
        def topic(r):
            name = r.string()
            parts = r.array(read_partition)
            r.tags()
            return name, parts
        return self.array(topic)

    def tags(self):
        """Skip a tagged-field section (flexible versions only)."""
        if not self.flexible:
            return {}
        out = {}
        for _ in range(self.uvarint()):
            tag = self.uvarint()
            size = self.uvarint()
            out[tag] = self._take(size)
        return out

    def remaining(self) -> int:
        return len(self.data) - self.pos


# --------------------------------------------------------------------------
# Record batches (magic v2)
# --------------------------------------------------------------------------

def encode_record(offset_delta: int, timestamp_delta: int, key, value) -> bytes:
    body = bytearray()
    body += b"\x00"  # attributes
    body += _varint(timestamp_delta)
    body += _varint(offset_delta)
    if key is None:
        body += _varint(-1)
    else:
        body += _varint(len(key)) + key
    if value is None:
        body += _varint(-1)
    else:
        body += _varint(len(value)) + value
    body += _varint(0)  # no headers
    return _varint(len(body)) + bytes(body)


def encode_record_batch(values, keys=None, base_timestamp=None,
                        producer_id=-1, producer_epoch=-1, base_sequence=-1) -> bytes:
    """An uncompressed magic-v2 record batch holding `values` (list of bytes)."""
    if base_timestamp is None:
        base_timestamp = int(time.time() * 1000)
    keys = keys or [None] * len(values)
    records = b"".join(
        encode_record(i, 0, k, v) for i, (k, v) in enumerate(zip(keys, values)))
    # Everything after the CRC field:
    after_crc = struct.pack(
        ">hiqqqhii",
        0,                      # attributes: no compression, CreateTime
        len(values) - 1,        # lastOffsetDelta
        base_timestamp,         # baseTimestamp
        base_timestamp,         # maxTimestamp
        producer_id,
        producer_epoch,
        base_sequence,
        len(values),            # record count
    ) + records
    crc = crc32c(after_crc)
    # partitionLeaderEpoch + magic + crc + rest
    after_length = struct.pack(">ibI", -1, 2, crc) + after_crc
    return struct.pack(">qi", 0, len(after_length)) + after_length


def corrupt_crc(batch: bytes) -> bytes:
    """Flip one bit in the last byte of the batch so the stored CRC no longer matches."""
    b = bytearray(batch)
    b[-2] ^= 0x01
    return bytes(b)


# --------------------------------------------------------------------------
# Connection
# --------------------------------------------------------------------------

@dataclass
class ApiVersionsResult:
    error_code: int
    versions: dict = field(default_factory=dict)  # api_key -> (min, max)


class KafkaConnection:
    def __init__(self, host: str, port: int, timeout: float = 10.0,
                 client_id: str = "strait-e2e"):
        self.timeout = timeout
        self.client_id = client_id
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._corr = 0
        self.versions = None

    @classmethod
    def to(cls, bootstrap: str, **kw) -> "KafkaConnection":
        host, port = bootstrap.rsplit(":", 1)
        return cls(host, int(port), **kw)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- framing ----------------------------------------------------------

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def _recv_exact(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError(
                    f"connection closed by broker after {len(out)} of {n} bytes")
            out += chunk
        return bytes(out)

    def recv_frame(self) -> bytes:
        (size,) = struct.unpack(">i", self._recv_exact(4))
        if size < 0 or size > 200 * 1024 * 1024:
            raise ProtocolError(f"implausible response size {size}")
        return self._recv_exact(size)

    def next_correlation_id(self) -> int:
        self._corr += 1
        return self._corr

    @staticmethod
    def header(api_key: int, api_version: int, correlation_id: int,
               client_id, flexible: bool) -> bytes:
        w = Writer(flexible=False)
        w.int16(api_key).int16(api_version).int32(correlation_id)
        w.string(client_id)  # client_id is always a classic nullable string
        if flexible:
            w.uvarint(0)  # header v2: empty tagged fields
        return w.getvalue()

    def frame(self, api_key: int, api_version: int, body: bytes,
              correlation_id: int, flexible_header: bool) -> bytes:
        payload = self.header(api_key, api_version, correlation_id,
                              self.client_id, flexible_header) + body
        return struct.pack(">i", len(payload)) + payload

    def request(self, api_key: int, api_version: int, body: bytes,
                flexible: bool | None = None, response_header_flexible=None) -> Reader:
        """Send one request and return a Reader positioned at the response body."""
        if flexible is None:
            flexible = api_version >= FLEXIBLE_FROM.get(api_key, 1 << 15)
        if response_header_flexible is None:
            # ApiVersions responses always use response header v0.
            response_header_flexible = flexible and api_key != API_VERSIONS
        corr = self.next_correlation_id()
        self.send_raw(self.frame(api_key, api_version, body, corr, flexible))
        data = self.recv_frame()
        r = Reader(data, flexible=False)
        got = r.int32()
        if got != corr:
            raise ProtocolError(f"correlation id mismatch: sent {corr}, got {got}")
        if response_header_flexible:
            r.flexible = True
            r.tags()
        r.flexible = flexible
        return r

    def wait_closed(self, timeout: float = 10.0) -> bytes:
        """Wait until the broker closes the connection.

        Returns whatever bytes arrived before EOF.  Raises AssertionError if the
        connection is still open after `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        got = bytearray()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"broker did not close the connection within {timeout}s "
                    f"(received {len(got)} bytes: {bytes(got[:64])!r})")
            self.sock.settimeout(min(left, 1.0))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return bytes(got)
            if not chunk:
                return bytes(got)
            got += chunk

    # -- ApiVersions -------------------------------------------------------

    def api_versions(self, version: int = 3) -> ApiVersionsResult:
        flexible = version >= 3
        w = Writer(flexible)
        if version >= 3:
            w.string("strait-e2e").string("0.1").tags()
        r = self.request(API_VERSIONS, version, w.getvalue(), flexible=flexible)
        return parse_api_versions_body(r, version)

    def negotiate(self):
        if self.versions is None:
            res = self.api_versions()
            if res.error_code != NONE:
                raise ProtocolError(f"ApiVersions failed with error {res.error_code}")
            self.versions = res.versions
        return self.versions

    def pick_version(self, api_key: int) -> int:
        versions = self.negotiate()
        if api_key not in versions:
            raise ProtocolError(f"broker does not advertise api key {api_key}")
        bmin, bmax = versions[api_key]
        mine = SUPPORTED[api_key]
        lo, hi = max(bmin, mine[0]), min(bmax, mine[1])
        if lo > hi:
            raise ProtocolError(
                f"no common version for api {api_key}: broker {bmin}-{bmax}, test client {mine}")
        # Prefer the newest classic (non-flexible) version if there is one, as
        # that is the most widely exercised encoding; otherwise the newest.
        classic_hi = min(hi, FLEXIBLE_FROM[api_key] - 1)
        return classic_hi if classic_hi >= lo else hi

    # -- CreateTopics ------------------------------------------------------

    def create_topics(self, topics, timeout_ms: int = 10000, version: int | None = None):
        """topics: list of (name, num_partitions, replication_factor[, {configs}]).

        Returns {name: (error_code, error_message)}."""
        v = self.pick_version(CREATE_TOPICS) if version is None else version
        flexible = v >= FLEXIBLE_FROM[CREATE_TOPICS]
        w = Writer(flexible)

        def topic(w, t):
            name, parts, rf = t[0], t[1], t[2]
            configs = t[3] if len(t) > 3 else {}
            w.string(name).int32(parts).int16(rf)
            w.array([], lambda w, a: None)  # assignments
            w.array(sorted(configs.items()),
                    lambda w, kv: w.string(kv[0]).string(kv[1]).tags())
            w.tags()

        w.array(list(topics), topic)
        w.int32(timeout_ms)
        w.boolean(False)  # validate_only
        w.tags()
        r = self.request(CREATE_TOPICS, v, w.getvalue())
        r.int32()  # throttle_time_ms

        def read_topic(r):
            name = r.string()
            if v >= 7:
                r.uuid()
            err = r.int16()
            msg = r.string()
            if v >= 5:
                r.int32()  # num_partitions
                r.int16()  # replication_factor
                r.array(lambda r: (r.string(), r.string(), r.boolean(),
                                   r.int8(), r.boolean(), r.tags()))
            r.tags()
            return name, err, msg

        out = {}
        for name, err, msg in r.array(read_topic):
            out[name] = (err, msg)
        r.tags()
        return out

    # -- CreatePartitions --------------------------------------------------

    def create_partitions(self, topics, timeout_ms: int = 10000, version: int | None = None):
        """topics: list of (name, new_total_count); no manual assignments.

        Returns {name: (error_code, error_message)}."""
        v = self.pick_version(CREATE_PARTITIONS) if version is None else version
        flexible = v >= FLEXIBLE_FROM[CREATE_PARTITIONS]
        w = Writer(flexible)

        def topic(w, t):
            w.string(t[0]).int32(t[1])
            w.array(None, None)  # assignments: null, the broker places them
            w.tags()

        w.array(list(topics), topic)
        w.int32(timeout_ms)
        w.boolean(False)  # validate_only
        w.tags()
        r = self.request(CREATE_PARTITIONS, v, w.getvalue())
        r.int32()  # throttle_time_ms

        def read_result(r):
            name = r.string()
            err = r.int16()
            msg = r.string()
            r.tags()
            return name, err, msg

        out = {}
        for name, err, msg in r.array(read_result):
            out[name] = (err, msg)
        r.tags()
        return out

    # -- Produce -----------------------------------------------------------

    def produce(self, topic: str, partition: int, records: bytes, acks: int = -1,
                timeout_ms: int = 10000, version: int | None = None):
        """Send one Produce request carrying `records` (raw record-batch bytes).

        Returns a dict with error_code, base_offset, error_message for the partition."""
        v = self.pick_version(PRODUCE) if version is None else version
        flexible = v >= FLEXIBLE_FROM[PRODUCE]
        w = Writer(flexible)
        w.string(None)  # transactional_id
        w.int16(acks).int32(timeout_ms)

        def part(w, p):
            w.int32(p[0]).bytes_(p[1]).tags()

        def tdata(w, t):
            w.string(t[0]).array(t[1], part).tags()

        w.array([(topic, [(partition, records)])], tdata)
        w.tags()
        r = self.request(PRODUCE, v, w.getvalue())

        def read_part(r):
            res = {"index": r.int32(), "error_code": r.int16(), "base_offset": r.int64()}
            res["log_append_time_ms"] = r.int64()
            if v >= 5:
                res["log_start_offset"] = r.int64()
            if v >= 8:
                res["record_errors"] = r.array(
                    lambda r: (r.int32(), r.string(), r.tags()))
                res["error_message"] = r.string()
            r.tags()
            return res

        topics = r.topics(read_part)
        for name, parts in topics:
            for p in parts:
                if name == topic and p["index"] == partition:
                    return p
        raise ProtocolError(f"no produce response for {topic}-{partition}: {topics!r}")

    # -- Metadata ----------------------------------------------------------

    def metadata(self, topics=None, version: int | None = None):
        """Returns {topic_name: (error_code, num_partitions)}."""
        v = self.pick_version(METADATA) if version is None else version
        flexible = v >= FLEXIBLE_FROM[METADATA]
        w = Writer(flexible)
        if topics is None:
            w.array(None, None)
        else:
            def t(w, name):
                if v >= 10:
                    w.raw(b"\x00" * 16)  # topic_id
                w.string(name).tags()
            w.array(list(topics), t)
        if v >= 4:
            w.boolean(False)  # allow_auto_topic_creation
        if 8 <= v <= 10:
            w.boolean(False)  # include_cluster_authorized_operations
        if v >= 8:
            w.boolean(False)  # include_topic_authorized_operations
        w.tags()
        r = self.request(METADATA, v, w.getvalue())
        if v >= 3:
            r.int32()  # throttle
        r.array(lambda r: (r.int32(), r.string(), r.int32(),
                           r.string() if v >= 1 else None, r.tags()))
        if v >= 2:
            r.string()  # cluster_id
        r.int32()  # controller_id

        def part(r):
            err = r.int16()
            idx = r.int32()
            r.int32()  # leader
            if v >= 7:
                r.int32()  # leader epoch
            r.array(lambda r: r.int32())
            r.array(lambda r: r.int32())
            if v >= 5:
                r.array(lambda r: r.int32())
            r.tags()
            return idx, err

        def topic(r):
            err = r.int16()
            name = r.string()
            if v >= 10:
                r.uuid()
            r.boolean()  # is_internal
            parts = r.array(part)
            if v >= 8:
                r.int32()  # topic authorized ops
            r.tags()
            return name, err, len(parts or [])

        out = {}
        for name, err, n in r.array(topic):
            out[name] = (err, n)
        return out


def parse_api_versions_body(r: Reader, version: int) -> ApiVersionsResult:
    err = r.int16()
    if err == UNSUPPORTED_VERSION or version < 3:
        # Unsupported-version replies are always encoded as v0.
        r.flexible = False
        entries = r.array(lambda r: (r.int16(), r.int16(), r.int16()))
    else:
        r.flexible = True
        entries = r.array(lambda r: (r.int16(), r.int16(), r.int16(), r.tags()))
    versions = {e[0]: (e[1], e[2]) for e in (entries or [])}
    return ApiVersionsResult(err, versions)


def api_versions_frame(version: int, correlation_id: int, client_id="strait-e2e") -> bytes:
    """A complete ApiVersions request frame at an arbitrary (possibly unsupported) version."""
    flexible = version >= 3
    w = Writer(flexible)
    if flexible:
        w.string("strait-e2e").string("0.1").tags()
    payload = KafkaConnection.header(API_VERSIONS, version, correlation_id,
                                     client_id, flexible) + w.getvalue()
    return struct.pack(">i", len(payload)) + payload
