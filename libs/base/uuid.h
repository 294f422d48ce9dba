// File: libs/base/uuid.h
// -----------------------------------------------------------------------------
// Identifiers: UUIDv7 (RFC 9562 §5.7) as lowercase canonical strings, e.g.
// "019a4b2c-8f3e-7a01-9c2d-3b4f5a6e7d8c". The first 48 bits are the Unix time in milliseconds, so ids
// sort (as strings and as PostgreSQL `uuid`) in creation order, which keeps B-tree inserts local and
// makes keyset pagination by id follow time.
//
// Monotonicity (RFC 9562 §6.2, method 1): the 12-bit `rand_a` field is a counter, seeded randomly with
// its top bit clear at each new millisecond and incremented for each further id in the same millisecond.
// If the clock stands still or steps back, the generator keeps its last timestamp and goes on counting;
// when the counter would roll over it advances its own timestamp by 1 ms (so under a burst of more than
// ~2048 ids per ms the embedded time may run slightly ahead of the clock). The remaining 62 bits are random.
//
// Example:
//   std::string id = crm::NewUuidV7();                 // process-wide generator on SystemClock()
//   crm::ManualClock clock(absl::FromUnixMillis(1'800'000'000'000));
//   crm::UuidV7Generator gen(clock);                     // tests and robots inject their clock
//   std::string a = gen.Next(), b = gen.Next();          // a < b
//   absl::StatusOr<absl::Time> t = crm::UuidV7Time(a);   // 1'800'000'000'000 ms
#ifndef CRM_LIBS_BASE_UUID_H_
#define CRM_LIBS_BASE_UUID_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"

namespace crm {

// Makes UUIDv7 strings from an injected clock. Thread-safe. Every id returned by one generator is
// strictly greater (as a string and as 128 bits) than every id it returned before, whatever the clock does.
class UuidV7Generator {
 public:
  // `clock` must outlive the generator.
  explicit UuidV7Generator(const Clock& clock);
  ~UuidV7Generator();
  UuidV7Generator(const UuidV7Generator&) = delete;
  UuidV7Generator& operator=(const UuidV7Generator&) = delete;

  // Returns a new id: 36 lowercase characters, version 7, RFC 9562 variant.
  std::string Next();

 private:
  struct State;
  const Clock& clock_;
  std::unique_ptr<State> state_;
};

// Returns a new UUIDv7 from the process-wide generator on SystemClock() (monotonic within the process).
std::string NewUuidV7();

// Returns true if `s` is a UUID of any version in canonical 8-4-4-4-12 hex form, either case.
bool IsUuid(std::string_view s);

// Returns the millisecond timestamp embedded in a UUIDv7; InvalidArgument if `s` is not a canonical
// UUID of version 7 with the RFC 9562 variant.
absl::StatusOr<absl::Time> UuidV7Time(std::string_view s);

}  // namespace crm

#endif  // CRM_LIBS_BASE_UUID_H_
