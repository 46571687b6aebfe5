#!/bin/sh
# gen_stubs.sh OUT_DIR [PROTO_DIR]: generates the Python message modules (*_pb2.py) and
# gRPC stubs (*_pb2_grpc.py) of the smime.v1 API and of grpc.health.v1 into OUT_DIR.
#
# Debian 12's python3-grpc-tools is gRPC 1.14 (2018); its stubs do not match
# python3-grpcio 1.51. So this uses protoc (protobuf-compiler, 3.21 like python3-protobuf)
# with grpc_python_plugin from protobuf-compiler-grpc (1.51 like python3-grpcio): the same
# versions as the runtime. Bazel's //client/python:stubs runs it; an application runs it
# the same way:
#
#   client/python/gen_stubs.sh myapp/gen       # then: sys.path.insert(0, "myapp/gen")
#
# The health proto is compiled as grpc_health/v1/health.proto, so that it imports as
# grpc_health.v1.health_pb2 (as with PyPI's grpcio-health-checking) instead of shadowing
# the grpc package; its service is still grpc.health.v1.Health.
set -eu
out=${1:?usage: gen_stubs.sh OUT_DIR [PROTO_DIR]}
protos=${2:-$(dirname "$0")/../../protos}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/grpc_health/v1"
cp /usr/share/grpc-proto/grpc/health/v1/health.proto "$tmp/grpc_health/v1/health.proto"
protoc -I "$protos" -I /usr/include -I "$tmp" \
  --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin \
  --python_out="$out" --grpc_python_out="$out" \
  "$protos"/smime/v1/*.proto "$tmp/grpc_health/v1/health.proto"
