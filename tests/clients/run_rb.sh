#!/bin/bash
# run_rb.sh SCRIPT [ARGS]: runs a Ruby test with Debian's /usr/bin/ruby (which has
# ruby-grpc and ruby-google-protobuf), with the Ruby client, its generated stubs and the
# daemon fixture on the load path.
set -eu
script=$1
shift
root="$TEST_SRCDIR/$TEST_WORKSPACE"
cd "$root"
export RUBYLIB="$root/client/ruby:$root/client/ruby/gen:$root/tests/clients${RUBYLIB:+:$RUBYLIB}"
# No ~/.gem or Bundler of the developer's: only what Debian installed.
export GEM_HOME="$TEST_TMPDIR/gems" BUNDLE_GEMFILE=/dev/null
exec /usr/bin/ruby "$script" --verbose "$@"
