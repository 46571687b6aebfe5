#!/bin/sh
# gen_stubs.sh OUT_DIR [PROTO_DIR]: generates the Ruby message classes (*_pb.rb) and gRPC
# stubs (*_services_pb.rb) of the smime.v1 API into OUT_DIR, with Debian's ruby-grpc-tools
# (grpc_tools_ruby_protoc: protoc plus grpc_ruby_plugin, the same gRPC version as
# ruby-grpc). PROTO_DIR is the directory holding smime/v1/*.proto (default: this repo's
# protos/). Bazel's //client/ruby:stubs runs it; an application runs it the same way:
#
#   client/ruby/gen_stubs.sh app/grpc            # then: $LOAD_PATH << "app/grpc"
#
# The gRPC health stubs come with ruby-grpc (require "grpc/health/v1/health_services_pb").
set -eu
out=${1:?usage: gen_stubs.sh OUT_DIR [PROTO_DIR]}
protos=${2:-$(dirname "$0")/../../protos}
mkdir -p "$out"
# -I/usr/include finds google/protobuf/timestamp.proto (package libprotobuf-dev); the
# generated code requires "google/protobuf/timestamp_pb", which ruby-google-protobuf has.
exec grpc_tools_ruby_protoc -I "$protos" -I /usr/include \
  --ruby_out="$out" --grpc_out="$out" "$protos"/smime/v1/*.proto
