# smimed_client_test.rb: the helpdesk's path through smimed, in Ruby, against the real
# daemon (its embedded PostgreSQL and worker processes) over its Unix socket:
# enable, import alice.p12, sign+encrypt a reply to alice, open it again, read the log.
# Run by //tests/clients:ruby_client_test.
require "minitest/autorun"
require "securerandom"
require "smimed_client"
require "smimed_daemon"

DAEMON = SmimedDaemon::Daemon.new.start
PKI = SmimedDaemon::Pki.new
Minitest.after_run do
  code = DAEMON.stop
  log = DAEMON.log
  DAEMON.cleanup
  PKI.cleanup
  # A daemon that does not stop cleanly fails the run even when every test passed.
  unless code.zero?
    warn "smimed exited with #{code} on SIGTERM:\n#{log}"
    exit! 1
  end
end

class SmimedClientTest < Minitest::Test
  def setup
    @smime = Smimed::Client.new(DAEMON.addr)
  end

  def teardown
    @smime.close
  end

  def mail(message_id, from: "Alice <alice@example.com>", to: "alice@example.com")
    <<~MAIL.gsub("\n", "\r\n")
      From: #{from}
      To: #{to}
      Subject: Re: [Ticket#4711] printer on fire
      Date: #{Time.now.utc.strftime('%a, %d %b %Y %H:%M:%S +0000')}
      Message-ID: <#{message_id}>
      Content-Type: text/plain; charset=utf-8
      Content-Transfer-Encoding: 8bit

      Hello Alice,

      the fire is out. Grüße, your helpdesk
    MAIL
  end

  def test_helpdesk_scenario
    assert @smime.serving?, "the health check says SERVING"

    # Off by default: mail calls are refused with a message saying how to turn it on.
    @smime.settings.update_settings(Smimed::V1::UpdateSettingsRequest.new(enabled: false))
    err = assert_raises(GRPC::FailedPrecondition) { @smime.list_certificates }
    assert_match(/disabled/, err.details)
    assert @smime.enable!.enabled
    assert @smime.get_settings.settings.enabled

    # One PKCS#12 import stores alice's certificate, her key and the CAs of her chain.
    imported = @smime.import_certificates(PKI.read("alice.p12"), password: "secret")
    assert imported.private_key_imported
    alice = imported.certificates.map(&:certificate).find do |c|
      c.email_addresses.include?("alice@example.com")
    end
    refute_nil alice, "alice's certificate is among those imported"
    assert alice.has_private_key
    assert_equal :CERTIFICATE_STATUS_VALID, alice.status

    # The composer asks; both buttons are possible for alice writing to herself.
    options = @smime.security_options(from: "alice@example.com", to: ["alice@example.com"])
    assert options.sign.possible, options.sign.addresses.map(&:reason).join("; ")
    assert options.encrypt.possible, options.encrypt.addresses.map(&:reason).join("; ")

    # Outgoing: sign and encrypt; the result is what goes to the MTA.
    message_id = "#{SecureRandom.hex(8)}@helpdesk.example"
    wire = @smime.sign_encrypt(mail(message_id), sign: true, encrypt: true)
    assert_match(%r{^Content-Type: application/pkcs7-mime;.*enveloped-data}i, wire)
    assert_match(/^Subject: Re: \[Ticket#4711\] printer on fire\r$/, wire)
    refute_includes wire, "the fire is out", "the body is encrypted"

    # Incoming: the same bytes, opened: encrypted then signed, both fine.
    opened = @smime.decrypt_verify(wire)
    assert_equal %i[KIND_ENVELOPED KIND_SIGNED], opened.layers.map(&:kind)
    enveloped, signed = opened.layers
    assert_equal :DECRYPTION_STATUS_DECRYPTED, enveloped.decryption_status, enveloped.comment
    assert_equal :SIGNATURE_STATUS_VALID, signed.signature_status, signed.comment
    assert_equal ["alice@example.com"], signed.signer_certificate.email_addresses.to_a
    assert_equal alice.sha256_fingerprint, signed.signer_certificate.sha256_fingerprint
    assert_match(/^signature valid \(alice@example.com\)/, Smimed.describe(signed))
    # The content went out 7-bit safe (quoted-printable): decode it to compare.
    headers, body = opened.message.split("\r\n\r\n", 2)
    assert_match(/^Content-Transfer-Encoding: quoted-printable\r?$/i, headers)
    assert_equal "Hello Alice,\n\nthe fire is out. Grüße, your helpdesk\n",
                 body.unpack1("M").force_encoding("UTF-8").gsub("\r\n", "\n")

    # The audit log has both, newest first.
    entries = @smime.logs(message_id: message_id).to_a
    assert_equal %i[DIRECTION_INCOMING DIRECTION_OUTGOING], entries.map(&:direction)
    incoming, outgoing = entries
    assert_equal %i[OPERATION_SIGN OPERATION_ENCRYPT].sort, outgoing.operations.to_a.sort
    assert_equal %i[OPERATION_DECRYPT OPERATION_VERIFY].sort, incoming.operations.to_a.sort
    entries.each { |e| assert_equal :LOG_STATUS_SUCCESS, e.status, e.comment }
    assert_equal "/smime.v1.MessageService/SignEncrypt", outgoing.rpc
    assert_includes outgoing.addresses.to_a, "alice@example.com"
    admin = @smime.logs(direction: :DIRECTION_ADMIN).map(&:operations).map(&:to_a).flatten
    assert_includes admin, :OPERATION_IMPORT_CERTIFICATE
  end

  def test_errors_are_statuses_a_person_can_act_on
    @smime.enable!
    err = assert_raises(GRPC::InvalidArgument) do
      @smime.import_certificates(PKI.read("alice.p12"), password: "wrong")
    end
    assert_match(/password/, err.details)

    # Nobody holds a certificate for this recipient: encryption is refused, naming them.
    err = assert_raises(GRPC::FailedPrecondition) do
      @smime.sign_encrypt(mail("#{SecureRandom.hex(8)}@helpdesk.example",
                               to: "nobody@example.net"), sign: false, encrypt: true)
    end
    assert_match(/nobody@example.net/, err.details)
  end

  def test_plain_mail_comes_back_unchanged
    @smime.enable!
    plain = mail("#{SecureRandom.hex(8)}@helpdesk.example")
    opened = @smime.decrypt_verify(plain)
    assert_empty opened.layers
    assert_equal plain.b, opened.message
  end

  def test_logs_pages_through_everything
    @smime.enable!
    3.times { @smime.decrypt_verify(mail("#{SecureRandom.hex(8)}@helpdesk.example")) }
    all = @smime.logs(page_size: 1000).to_a
    paged = @smime.logs(page_size: 2).to_a
    assert_operator all.size, :>=, 3
    assert_equal all.map(&:id), paged.map(&:id)
    assert_equal all.map(&:id).sort.reverse, all.map(&:id), "newest first"
  end
end
