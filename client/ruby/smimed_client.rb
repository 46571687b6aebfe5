# smimed_client.rb: how a Ruby application (the helpdesk's Rails app) calls smimed.
#
# It needs Debian's ruby-grpc (which brings ruby-google-protobuf) and the stubs generated
# from protos/smime/v1 by client/ruby/gen_stubs.sh (Bazel: //client/ruby:stubs) on the
# $LOAD_PATH. Everything below is plain generated-stub usage; this file only wraps it in
# the few calls a helpdesk makes, with the deadlines, channel options and errors it needs.
#
#   require "smimed_client"
#
#   smime = Smimed::Client.new("unix:/var/lib/smimed/smimed.sock")      # on the same host
#   smime = Smimed::Client.new("smimed.helpdesk.svc:8443",               # over mutual TLS
#                              tls: { ca: "/etc/smimed-client/ca.pem",
#                                     cert: "/etc/smimed-client/tls.crt",
#                                     key: "/etc/smimed-client/tls.key" })
#
#   # Once, as an admin: turn the integration on and import an agent's certificate and key.
#   smime.enable!
#   smime.import_certificates(File.binread("alice.p12"), password: "secret")
#
#   # Outgoing: the composer asks what is possible, then the mailer protects the message.
#   options = smime.security_options(from: "alice@example.com", to: ["bob@example.org"])
#   wire = smime.sign_encrypt(mail.to_s, sign: true, encrypt: options.encrypt.possible)
#
#   # Incoming: open what arrived and show each layer's verdict to the agent.
#   opened = smime.decrypt_verify(raw_mail)
#   opened.layers.each { |layer| puts Smimed.describe(layer) }
#
#   # The audit log, newest first, across pages.
#   smime.logs(address: "alice@example.com").first(20)
#
# Errors are GRPC::BadStatus subclasses whose #details a person can act on, e.g.
# GRPC::FailedPrecondition "no usable certificate for bob@example.org" or
# GRPC::InvalidArgument "wrong password for the PKCS#12 file".
#
# Run it as a script to see a server's state: ruby -Igen smimed_client.rb [ADDR]

require "grpc"
require "grpc/health/v1/health_services_pb" # shipped with ruby-grpc
require "smime/v1/certificate_services_pb"  # generated (gen_stubs.sh)
require "smime/v1/log_services_pb"
require "smime/v1/message_services_pb"
require "smime/v1/settings_services_pb"

module Smimed
  V1 = ::Smime::V1

  # Client holds one gRPC channel to smimed and a stub per service on it. A channel is
  # thread-safe and reconnects by itself: make one per process (e.g. in a Rails
  # initializer) and share it, rather than one per request.
  class Client
    # Largest message we send or accept (the daemon's default limit is 32 MiB).
    MAX_MESSAGE_BYTES = 64 << 20

    attr_reader :certificates, :messages, :log, :settings, :health

    # addr: "unix:/path/to/smimed.sock" (local admin) or "host:port" (mutual TLS).
    # tls: { ca:, cert:, key: } PEM file paths (or PEM strings with pem: true); the
    #   client certificate decides the role the daemon grants (admin or service).
    # server_name: the name to check in the server's certificate, when it differs from
    #   the host in addr (e.g. when connecting through a port-forward to 127.0.0.1).
    # timeout: default deadline of each call, in seconds.
    def initialize(addr, tls: nil, server_name: nil, timeout: 30)
      @timeout = timeout
      args = {
        "grpc.max_send_message_length" => MAX_MESSAGE_BYTES,
        "grpc.max_receive_message_length" => MAX_MESSAGE_BYTES,
      }
      args["grpc.ssl_target_name_override"] = server_name if server_name
      # Without tls: the Unix socket, or a loopback listener started with --insecure.
      creds = tls ? tls_credentials(tls) : :this_channel_is_insecure
      @channel = GRPC::Core::Channel.new(addr, args, creds)
      stub = ->(service) { service::Stub.new(addr, creds, channel_override: @channel) }
      @certificates = stub.call(V1::CertificateService)
      @messages = stub.call(V1::MessageService)
      @log = stub.call(V1::LogService)
      @settings = stub.call(V1::SettingsService)
      @health = stub.call(Grpc::Health::V1::Health)
    end

    def close
      @channel.close
    end

    # serving? is true when smimed answers and its database does (the gRPC health check).
    def serving?
      resp = @health.check(Grpc::Health::V1::HealthCheckRequest.new, deadline: deadline(5))
      resp.status == :SERVING
    rescue GRPC::BadStatus
      false
    end

    # --- Settings (reading: service role; changing: admin) ---

    def get_settings
      @settings.get_settings(V1::GetSettingsRequest.new, deadline: deadline)
    end

    # enable! turns the S/MIME integration on (off by default; while off, every certificate,
    # message and log call fails with GRPC::FailedPrecondition). Admin role.
    def enable!
      req = V1::UpdateSettingsRequest.new(enabled: true)
      @settings.update_settings(req, deadline: deadline).settings
    end

    # --- Certificates (import: admin role) ---

    # import_certificates stores every certificate in data (PEM, DER, PKCS#7, PKCS#12) and a
    # PKCS#12's private key; returns the response (certificates, private_key_imported).
    def import_certificates(data, password: "")
      req = V1::ImportCertificatesRequest.new(data: data.b, password: password)
      @certificates.import_certificates(req, deadline: deadline)
    end

    def list_certificates(**filters)
      @certificates.list_certificates(V1::ListCertificatesRequest.new(**filters),
                                      deadline: deadline)
    end

    # --- Mail (service role) ---

    # security_options: what the composer shows (can sign / can encrypt, and why not).
    def security_options(from:, to: [], group: "")
      req = V1::GetSecurityOptionsRequest.new(from: from, recipients: to, group: group)
      @messages.get_security_options(req, deadline: deadline)
    end

    # sign_encrypt takes the complete RFC 5322 message the helpdesk built and returns the
    # bytes to hand to the MTA. Recipients are To and Cc (plus the sender, so sent mail
    # stays readable) unless recipients: names others. options: SignEncryptOptions
    # fields, e.g. cipher: :CONTENT_CIPHER_AES256_GCM, digest: :DIGEST_ALGORITHM_SHA384.
    def sign_encrypt(message, sign: true, encrypt: true, recipients: [], **options)
      req = V1::SignEncryptRequest.new(message: message.b, sign: sign, encrypt: encrypt,
                                       recipients: recipients,
                                       options: V1::SignEncryptOptions.new(**options))
      @messages.sign_encrypt(req, deadline: deadline).message
    end

    # decrypt_verify opens a received message. It returns the whole response: #message is
    # the opened message, #layers says per layer (outermost first) what happened. A
    # message that is not S/MIME comes back unchanged with no layers; a bad signature is
    # a layer status, not an error.
    def decrypt_verify(message)
      req = V1::DecryptVerifyRequest.new(message: message.b)
      @messages.decrypt_verify(req, deadline: deadline)
    end

    # --- Audit log (service role) ---

    # logs enumerates audit entries newest first, fetching pages as needed; filters are
    # ListLogsRequest fields (direction: :DIRECTION_OUTGOING, address:, message_id:, ...).
    def logs(page_size: 100, **filters)
      return enum_for(:logs, page_size: page_size, **filters) unless block_given?

      token = ""
      loop do
        req = V1::ListLogsRequest.new(page_size: page_size, page_token: token, **filters)
        page = @log.list_logs(req, deadline: deadline)
        page.entries.each { |entry| yield entry }
        token = page.next_page_token
        break if token.empty?
      end
    end

    private

    def deadline(seconds = @timeout)
      Time.now + seconds
    end

    def tls_credentials(tls)
      read = ->(what) { tls[:pem] ? tls.fetch(what) : File.read(tls.fetch(what)) }
      GRPC::Core::ChannelCredentials.new(read.call(:ca), read.call(:key), read.call(:cert))
    end
  end

  # describe turns one DecryptVerify layer into the line an agent sees.
  def self.describe(layer)
    case layer.kind
    when :KIND_SIGNED
      signer = layer.signer_certificate&.email_addresses&.join(", ")
      "signature #{short(layer.signature_status)} (#{signer}): #{layer.comment}"
    when :KIND_ENVELOPED, :KIND_AUTH_ENVELOPED
      "encryption #{short(layer.decryption_status)}: #{layer.comment}"
    else
      "unknown layer #{layer.kind}"
    end
  end

  def self.short(status)
    status.to_s.sub(/\A(SIGNATURE|DECRYPTION)_STATUS_/, "").downcase
  end
end

if $PROGRAM_NAME == __FILE__
  addr = ARGV[0] || ENV["SMIMED_ADDR"] || "unix:/var/lib/smimed/smimed.sock"
  smime = Smimed::Client.new(addr)
  puts "#{addr}: #{smime.serving? ? 'serving' : 'NOT serving'}"
  s = smime.get_settings
  puts "enabled: #{s.settings.enabled}, version #{s.status.version}, " \
       "#{s.status.engines} engines, KEK check value #{s.status.kek_check_value}"
  if s.settings.enabled
    smime.logs(page_size: 5).first(5).each do |e|
      puts "#{Time.at(e.create_time.seconds).utc} #{e.rpc} #{e.status}: #{e.comment}"
    end
  else
    puts "the log is readable once an admin enables the integration"
  end
end
