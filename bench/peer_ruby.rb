# peer_ruby.rb: the Ruby peer of the benchmark: OpenSSL::PKCS7 in one process, the code
# path of the helpdesk smimed replaces (PKCS7.sign/encrypt + write_smime, read_smime +
# verify/decrypt), looping on one operation for a while.
#
#   ruby peer_ruby.rb OP CERT KEY CAFILE MESSAGE SECONDS [DBURL]
#
# OP: sign encrypt sign+encrypt verify decrypt decrypt+verify. verify and decrypt open
# what this script's own sign/encrypt produced from MESSAGE (Ruby's PKCS7 cannot read
# every CMS form smimed writes). With DBURL (and the pg gem) each message also inserts
# one log row in its own transaction, as the helpdesk does. Prints one line:
# "ruby OP msgs_per_s=X cpu_s_per_msg=Y", or "ruby OP unsupported: why".
require "openssl"

op, cert_file, key_file, ca_file, msg_file, seconds, dburl = ARGV
seconds = seconds.to_f
cert = OpenSSL::X509::Certificate.new(File.read(cert_file))
key = OpenSSL::PKey.read(File.read(key_file))
store = OpenSSL::X509::Store.new
store.add_file(ca_file)
data = File.binread(msg_file)
cipher = OpenSSL::Cipher.new("AES-256-CBC")
flags = OpenSSL::PKCS7::DETACHED | OpenSSL::PKCS7::BINARY

db = nil
if dburl
  require "pg"
  db = PG.connect(dburl)
  begin
    db.exec("CREATE TABLE IF NOT EXISTS ruby_log (id bigserial PRIMARY KEY, at timestamptz " \
            "NOT NULL DEFAULT now(), operation text, status text, address text)")
  rescue PG::UniqueViolation
    # Another worker created it at the same moment (IF NOT EXISTS is not atomic).
  end
end

sign = lambda do |d|
  OpenSSL::PKCS7.write_smime(OpenSSL::PKCS7.sign(cert, key, d, [], flags), d, flags)
end
encrypt = lambda do |d|
  OpenSSL::PKCS7.write_smime(OpenSSL::PKCS7.encrypt([cert], d, cipher, OpenSSL::PKCS7::BINARY))
end
verify = lambda do |s|
  p7 = OpenSSL::PKCS7.read_smime(s)
  raise "signature does not verify" unless p7.verify([], store, p7.data, OpenSSL::PKCS7::BINARY)
  p7.data
end
decrypt = lambda do |s|
  OpenSSL::PKCS7.read_smime(s).decrypt(key, cert)
end

begin
  fn = case op
       when "sign" then -> { sign.(data) }
       when "encrypt" then -> { encrypt.(data) }
       when "sign+encrypt" then -> { encrypt.(sign.(data)) }
       when "verify"
         signed = sign.(data)
         -> { verify.(signed) }
       when "decrypt"
         enc = encrypt.(data)
         -> { decrypt.(enc) }
       when "decrypt+verify"
         both = encrypt.(sign.(data))
         -> { verify.(decrypt.(both)) }
       else raise "unknown operation #{op}"
       end
  fn.call
rescue StandardError => e
  puts "ruby #{op} unsupported: #{e.message.tr("\n", " ")}"
  exit 0
end

n = 0
w0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
c0 = Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID)
loop do
  fn.call
  if db
    db.transaction do |t|
      t.exec_params("INSERT INTO ruby_log (operation, status, address) VALUES ($1, $2, $3)",
                    [op, "ok", "alice@example.com"])
    end
  end
  n += 1
  break if Process.clock_gettime(Process::CLOCK_MONOTONIC) - w0 >= seconds
end
wall = Process.clock_gettime(Process::CLOCK_MONOTONIC) - w0
cpu = Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID) - c0
printf("ruby %s msgs_per_s=%.2f cpu_s_per_msg=%.9f\n", op, n / wall, cpu / n)
