#include "libs/base/uuid.h"

#include <algorithm>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "libs/base/strings.h"

namespace crm {
namespace {

constexpr int64_t kMaxMillis = (int64_t{1} << 48) - 1;  // the 48-bit unix_ts_ms field
constexpr uint16_t kMaxCounter = 0xFFF;                 // the 12-bit rand_a field
constexpr char kHex[] = "0123456789abcdef";

bool IsHyphenPosition(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

}  // namespace

struct UuidV7Generator::State {
  absl::Mutex mu;
  absl::BitGen bitgen ABSL_GUARDED_BY(mu);
  int64_t last_ms ABSL_GUARDED_BY(mu) = -1;
  uint16_t counter ABSL_GUARDED_BY(mu) = 0;

  // A fresh counter: random, with the top bit clear so at least 2048 ids fit before a rollover.
  uint16_t SeedCounter() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return static_cast<uint16_t>(absl::Uniform<uint16_t>(bitgen) & 0x7FF);
  }
};

UuidV7Generator::UuidV7Generator(const Clock& clock) : clock_(clock), state_(std::make_unique<State>()) {}

UuidV7Generator::~UuidV7Generator() = default;

std::string UuidV7Generator::Next() {
  const int64_t now_ms = std::clamp<int64_t>(absl::ToUnixMillis(clock_.Now()), 0, kMaxMillis);
  int64_t ms;
  uint16_t counter;
  uint64_t rand_b;
  {
    absl::MutexLock lock(&state_->mu);
    State& s = *state_;
    if (now_ms > s.last_ms) {
      s.last_ms = now_ms;
      s.counter = s.SeedCounter();
    } else if (s.counter < kMaxCounter) {
      ++s.counter;  // same millisecond, or the clock stepped back: keep counting
    } else {
      ++s.last_ms;  // counter rollover: run the timestamp ahead (RFC 9562 §6.2)
      s.counter = s.SeedCounter();
    }
    ms = s.last_ms;
    counter = s.counter;
    rand_b = absl::Uniform<uint64_t>(s.bitgen);
  }

  uint8_t b[16];
  for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(static_cast<uint64_t>(ms) >> (8 * (5 - i)));
  b[6] = static_cast<uint8_t>(0x70 | (counter >> 8));
  b[7] = static_cast<uint8_t>(counter & 0xFF);
  b[8] = static_cast<uint8_t>(0x80 | ((rand_b >> 56) & 0x3F));
  for (int i = 9; i < 16; ++i) b[i] = static_cast<uint8_t>(rand_b >> (8 * (15 - i)));

  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0xF]);
  }
  return out;
}

std::string NewUuidV7() {
  static UuidV7Generator* const generator = new UuidV7Generator(SystemClock());
  return generator->Next();
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (IsHyphenPosition(i) ? s[i] != '-' : HexDigitValue(s[i]) < 0) return false;
  }
  return true;
}

absl::StatusOr<absl::Time> UuidV7Time(std::string_view s) {
  if (!IsUuid(s)) {
    return absl::InvalidArgumentError(absl::StrCat("not a canonical UUID: ", QuoteForError(s)));
  }
  const int variant = HexDigitValue(s[19]);
  if (s[14] != '7' || (variant & 0xC) != 0x8) {
    return absl::InvalidArgumentError(absl::StrCat("not a version 7 UUID: ", AsAbsl(s)));
  }
  int64_t ms = 0;
  for (size_t i = 0; i < 13; ++i) {
    if (i == 8) continue;
    ms = (ms << 4) | HexDigitValue(s[i]);
  }
  return absl::FromUnixMillis(ms);
}

}  // namespace crm
