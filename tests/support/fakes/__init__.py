"""Local fakes of the providers' HTTP APIs (Twilio's Messages API, Meta's Graph API) for tests and
benchmarks: real HTTP servers on loopback that record every request and fail on demand."""

from tests.support.fakes.graph import FakeGraph
from tests.support.fakes.server import FakeServer, Recorded
from tests.support.fakes.twilio import FakeTwilio

__all__ = ["FakeGraph", "FakeServer", "FakeTwilio", "Recorded"]
