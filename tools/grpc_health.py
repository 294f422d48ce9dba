#!/usr/bin/python3
"""Prints a gRPC server's grpc.health.v1 status ("SERVING", ...) for tools/crm status.

Usage: grpc_health.py HOST:PORT [SERVICE]. Exit code 0 when SERVING. Uses only python3-grpcio: the
request and response are encoded by hand (HealthCheckRequest{service=1}, HealthCheckResponse{status=1}).
"""
import sys

import grpc

STATUSES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def main() -> int:
    target = sys.argv[1]
    service = sys.argv[2].encode() if len(sys.argv) > 2 else b""
    request = (b"\x0a" + bytes([len(service)]) + service) if service else b""
    with grpc.insecure_channel(target) as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check")
        try:
            response = check(request, timeout=2)
        except grpc.RpcError as e:
            print(f"error: {e.code().name}")
            return 1
    status = response[1] if len(response) >= 2 and response[0] == 0x08 else 0
    print(STATUSES.get(status, str(status)))
    return 0 if status == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
