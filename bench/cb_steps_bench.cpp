// CPU per step of one box's provisioning (seed 004), one core, for docs/BENCHMARKS.md: what the
// factory spends (a key pair, a serial-number certificate), what the configuration manager spends
// (reading the box's certificate, issuing its CB certificate, the record's store writes). The TLS
// handshakes are measured against the real listener with openssl s_time (bench/run_cb.sh).
#include <benchmark/benchmark.h>

#include <filesystem>

#include "pki/pki.hpp"
#include "provisioning/factory.hpp"
#include "provisioning/registry.hpp"
#include "store/store.hpp"

using namespace mobix;

namespace {

struct Ca {
  std::string dir;
  Ca() {
    char tmpl[] = "/tmp/mobix-bench-ca-XXXXXX";
    dir = mkdtemp(tmpl);
    std::filesystem::remove(dir);
    pki::CertificateAuthority::create(dir, "Bench CA");
  }
  ~Ca() { std::filesystem::remove_all(dir); }
};

Ca& ca() {
  static Ca c;
  return c;
}

void BM_FactoryKeyPair(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(pki::generate_key_pair());
}
BENCHMARK(BM_FactoryKeyPair)->Unit(benchmark::kMillisecond);

void BM_FactorySerialCertificate(benchmark::State& state) {
  pki::Signer signer(ca().dir);
  auto keys = pki::generate_key_pair();
  for (auto _ : state)
    benchmark::DoNotOptimize(signer.sign(keys.public_pem, {"SN-000001", "serial", true, true, 3650}));
}
BENCHMARK(BM_FactorySerialCertificate)->Unit(benchmark::kMillisecond);

void BM_Phase2ReadBoxCertificate(benchmark::State& state) {
  pki::Signer signer(ca().dir);
  auto cert = signer.sign(pki::generate_key_pair().public_pem, {"SN-000001", "serial", true, true, 3650}).pem;
  for (auto _ : state) {
    benchmark::DoNotOptimize(pki::identity_of(cert));
    benchmark::DoNotOptimize(pki::public_key_of(cert));
  }
}
BENCHMARK(BM_Phase2ReadBoxCertificate)->Unit(benchmark::kMillisecond);

void BM_Phase2IssueCbCertificate(benchmark::State& state) {
  pki::Signer signer(ca().dir);
  auto keys = pki::generate_key_pair();
  for (auto _ : state)
    benchmark::DoNotOptimize(signer.sign(keys.public_pem, {"cb-0123456789abcdef", "cb", true, true, 397}));
}
BENCHMARK(BM_Phase2IssueCbCertificate)->Unit(benchmark::kMillisecond);

// One record transition as the configuration manager writes it (read, compare the version, write),
// durable (SQLite, WAL, synchronous=FULL): a box's provisioning takes four of them.
void BM_Phase2RecordTransition(benchmark::State& state) {
  auto path = ca().dir + "/steps.db";
  auto store = Store::open_sqlite(path);
  BoxRegistry registry(*store);
  static int run = 0;  // the library calls this function more than once: a new box each time
  auto serial = "SN-" + std::to_string(++run);
  store->put_valid_serial({serial, password_sha256("pw"), "AA", 1, 0});
  auto rec = registry.register_box({serial, "", "", "4420000001", "Bench", "1 St", "b", {}}, 1);
  std::int64_t n = 0;
  for (auto _ : state)
    registry.transition(
        rec.cb_id,
        [&](BoxRecord& r) {
          r.state_reason = std::to_string(++n);
          return true;
        },
        n);
}
BENCHMARK(BM_Phase2RecordTransition)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
