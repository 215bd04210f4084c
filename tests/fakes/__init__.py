"""Local fakes of the providers' HTTP APIs (Twilio's Messages API, Meta's Graph API) for tests and
benchmarks: real HTTP servers on loopback that record every request and fail on demand."""

from tests.fakes.graph import FakeGraph
from tests.fakes.server import FakeServer, Recorded
from tests.fakes.twilio import FakeTwilio

__all__ = ["FakeGraph", "FakeServer", "FakeTwilio", "Recorded"]
