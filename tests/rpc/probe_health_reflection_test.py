#!/usr/bin/python3
"""Checks crm-echo-probe the way Kubernetes and grpcurl-like tools see a service, with python3-grpcio:

  - grpc.health.v1 Check: SERVING for "crm.testing.v1.EchoService" and for "", NOT_FOUND for others;
  - server reflection (grpc.reflection.v1alpha) lists crm.testing.v1.EchoService and serves its file;
  - crm.testing.v1.EchoService/Echo answers, keeping the caller's x-request-id and echoing it back;
  - /metrics counts that call;
  - SIGTERM: the process exits 0.

Stubs are generated at test time with grpc_tools.protoc into a temporary directory: health and
reflection from Debian's grpc-proto (/usr/share/grpc-proto), copied under file names that do not
clash with the installed `grpc` package (the proto packages, hence the service names, are unchanged);
echo.proto from the repository.

Usage: probe_health_reflection_test.py --probe build/tests/rpc/crm-echo-probe --proto-root proto
"""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import urllib.request

import grpc
from grpc_tools import protoc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from service_process import ServiceProcess  # noqa: E402

GRPC_PROTO = "/usr/share/grpc-proto"


def generate(out_dir, proto_root):
    src = os.path.join(out_dir, "src")
    os.makedirs(src)
    shutil.copy(os.path.join(GRPC_PROTO, "grpc/health/v1/health.proto"), os.path.join(src, "probe_health.proto"))
    shutil.copy(os.path.join(GRPC_PROTO, "grpc/reflection/v1alpha/reflection.proto"),
                os.path.join(src, "probe_reflection.proto"))
    for include, files in ((src, ["probe_health.proto", "probe_reflection.proto"]),
                           (proto_root, ["crm/common/v1/validation.proto", "crm/common/v1/common.proto",
                                         "crm/testing/v1/echo.proto"])):
        rc = protoc.main(["grpc_tools.protoc", "-I" + include, "--python_out=" + out_dir,
                          "--grpc_python_out=" + out_dir] + files)
        if rc != 0:
            raise RuntimeError("protoc failed for %s" % files)
    sys.path.insert(0, out_dir)


def Probe(path):
    """The probe process on free ports, its log lines collected as they are read."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env["CRM_ECHO_GRPC_ADDRESS"] = "127.0.0.1:0"
    env["CRM_ECHO_METRICS_ADDRESS"] = "127.0.0.1:0"
    return ServiceProcess("probe", [path], env)


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print("ok:", what)


def run(args):
    tmp = tempfile.mkdtemp(prefix="crm-probe-py-")
    try:
        generate(tmp, os.path.abspath(args.proto_root))
        import probe_health_pb2
        import probe_health_pb2_grpc
        import probe_reflection_pb2
        import probe_reflection_pb2_grpc
        from crm.testing.v1 import echo_pb2
        from crm.testing.v1 import echo_pb2_grpc

        probe = Probe(args.probe)
        try:
            serving = probe.wait_for("serving")
            grpc_port, metrics_port = serving["grpc_port"], serving["metrics_port"]
            check(grpc_port > 0 and metrics_port > 0, "serving line names the ports: %s" % serving)
            channel = grpc.insecure_channel("127.0.0.1:%d" % grpc_port)
            grpc.channel_ready_future(channel).result(timeout=10)

            # Health.
            health = probe_health_pb2_grpc.HealthStub(channel)
            serving_status = probe_health_pb2.HealthCheckResponse.SERVING
            for name in ("crm.testing.v1.EchoService", ""):
                reply = health.Check(probe_health_pb2.HealthCheckRequest(service=name), timeout=5)
                check(reply.status == serving_status, "health Check(%r) == SERVING" % name)
            try:
                health.Check(probe_health_pb2.HealthCheckRequest(service="crm.testing.v1.Nope"), timeout=5)
                check(False, "health Check of an unknown service fails")
            except grpc.RpcError as e:
                check(e.code() == grpc.StatusCode.NOT_FOUND, "health Check of an unknown service is NOT_FOUND")

            # Reflection.
            reflection = probe_reflection_pb2_grpc.ServerReflectionStub(channel)
            requests = [probe_reflection_pb2.ServerReflectionRequest(list_services=""),
                        probe_reflection_pb2.ServerReflectionRequest(
                            file_containing_symbol="crm.testing.v1.EchoService")]
            replies = list(reflection.ServerReflectionInfo(iter(requests), timeout=5))
            services = {s.name for s in replies[0].list_services_response.service}
            check("crm.testing.v1.EchoService" in services, "reflection lists crm.testing.v1.EchoService: %s"
                  % sorted(services))
            check("grpc.health.v1.Health" in services, "reflection lists grpc.health.v1.Health")
            files = replies[1].file_descriptor_response.file_descriptor_proto
            check(len(files) > 0 and any(b"crm/testing/v1/echo.proto" in f for f in files),
                  "reflection serves crm/testing/v1/echo.proto")

            # A call.
            echo = echo_pb2_grpc.EchoServiceStub(channel)
            reply, call = echo.Echo.with_call(echo_pb2.EchoRequest(text="from python"),
                                              metadata=[("x-request-id", "py-req-1")], timeout=5)
            check(reply.text == "from python", "Echo answers the text")
            check(reply.request_id == "py-req-1", "Echo sees the caller's request id")
            check(("x-request-id", "py-req-1") in list(call.initial_metadata()),
                  "the request id comes back in the initial metadata")

            # Metrics.
            page = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port, timeout=5).read().decode()
            counted = [l for l in page.splitlines() if l.startswith("grpc_server_handled_total{")
                       and 'grpc_method="Echo"' in l and 'grpc_code="OK"' in l and 'service="echo"' in l]
            check(len(counted) == 1 and float(counted[0].rsplit(" ", 1)[1]) >= 1, "/metrics counts the Echo call")

            # Drain.
            channel.close()
            probe.proc.send_signal(signal.SIGTERM)
            probe.wait_for("stopped")
            check(probe.proc.wait(timeout=20) == 0, "SIGTERM: exit code 0")
        finally:
            probe.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probe", required=True, help="path of the crm-echo-probe binary")
    parser.add_argument("--proto-root", required=True, help="the repository's proto/ directory")
    args = parser.parse_args()
    try:
        run(args)
    except AssertionError as e:
        print("FAIL:", e, file=sys.stderr)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
