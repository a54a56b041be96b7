"""What a stream's Hello must carry (issue 10.f): valid names and a well-formed inbound address."""

from __future__ import annotations

import pytest
from apex.mesh.v1 import control_pb2

from engines.control.server import address_problem, hello_problem


@pytest.mark.parametrize("address", ["127.0.0.1:15001", "0.0.0.0:1", "[::1]:80", ":15001", "echo-1.ns.svc:8080"])
def test_good_inbound_addresses(address: str) -> None:
    assert address_problem(address) is None


@pytest.mark.parametrize("address", ["999.1.1.1:1", "1.2.3:4", "a b:1", "host:0", "host:65536", "host", "h:x"])
def test_bad_inbound_addresses(address: str) -> None:
    assert address_problem(address) is not None


def test_hello_problems_name_the_field() -> None:
    assert hello_problem(control_pb2.Hello(service="echo", instance="i-1")) is None
    assert hello_problem(control_pb2.Hello(service="", instance="i-1")) == "hello.service is required"
    problem = hello_problem(control_pb2.Hello(service="echo", instance="x\ny"))
    assert problem is not None and problem.startswith("hello.instance ")
