# smimed_daemon.rb: the Ruby twin of tests/smimed_fixture.py's Daemon, for the Ruby
# client test: starts the real smimed on its embedded default (its own PostgreSQL, key
# file and Unix socket) in a fresh directory under /tmp, and makes the test PKI with
# tests/pki/make_pki.sh.
require "fileutils"
require "tmpdir"

module SmimedDaemon
  # runfile is the absolute path of a Bazel runfile such as "service/smimed".
  def self.runfile(path)
    root = File.join(ENV.fetch("TEST_SRCDIR", ""), ENV.fetch("TEST_WORKSPACE", "smimed"))
    candidate = File.join(root, path)
    File.exist?(candidate) ? candidate : File.join("bazel-bin", path)
  end

  # Daemon is one smimed process. Its directory is under /tmp, not in Bazel's tree:
  # run as root, the embedded PostgreSQL runs as the user smimed, which cannot enter /root.
  class Daemon
    attr_reader :dir, :data_dir, :log_path

    def initialize
      @dir = Dir.mktmpdir("smimed-test.", "/tmp")
      File.chmod(0o755, @dir)
      @data_dir = File.join(@dir, "data")
      @log_path = File.join(@dir, "smimed.log")
      @pid = nil
    end

    def socket
      File.join(@data_dir, "smimed.sock")
    end

    def addr
      "unix:#{socket}"
    end

    def start(timeout: 90)
      @pid = Process.spawn(SmimedDaemon.runfile("service/smimed"), "--data-dir", @data_dir,
                           %i[out err] => [@log_path, "a"])
      deadline = Time.now + timeout
      while Time.now < deadline
        if Process.wait(@pid, Process::WNOHANG)
          code = $?.exitstatus
          @pid = nil
          raise "smimed exited with #{code} during start-up:\n#{log}"
        end
        # smimed's own ready line: PostgreSQL also logs "ready", and the socket file
        # exists from bind, before the server listens.
        return self if File.socket?(socket) && log.match?(/smimed \S+ ready \(/)

        sleep 0.1
      end
      raise "smimed did not become ready in #{timeout}s:\n#{log}"
    end

    def log
      File.exist?(@log_path) ? File.binread(@log_path).force_encoding("UTF-8").scrub : ""
    end

    # stop sends SIGTERM and returns the exit status (0 when it stopped cleanly).
    def stop(timeout: 60)
      return nil if @pid.nil?

      Process.kill("TERM", @pid)
      deadline = Time.now + timeout
      while Time.now < deadline
        if Process.wait(@pid, Process::WNOHANG)
          @pid = nil
          return $?.exitstatus
        end
        sleep 0.1
      end
      Process.kill("KILL", @pid)
      Process.wait(@pid)
      @pid = nil
      raise "smimed did not stop within #{timeout}s:\n#{log}"
    end

    def cleanup
      stop if @pid
      FileUtils.rm_rf(@dir)
    end
  end

  # Pki is make_pki.sh's output (password of every encrypted file: "secret").
  class Pki
    attr_reader :dir

    def initialize
      @dir = Dir.mktmpdir("smimed-pki.")
      out = IO.popen([SmimedDaemon.runfile("tests/pki/make_pki.sh"), @dir], err: %i[child out],
                     &:read)
      raise "make_pki.sh failed:\n#{out}" unless $?.success?
    end

    def read(name)
      File.binread(File.join(@dir, name))
    end

    def cleanup
      FileUtils.rm_rf(@dir)
    end
  end
end
