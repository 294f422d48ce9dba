#include "services/gateway/stream/position.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "libs/base/strings.h"

namespace crm::gateway::stream_internal {
namespace {

constexpr size_t kChecksumBytes = 3;

// FNV-1a, 32 bits.
uint32_t Fnv1a(std::string_view s, uint32_t h) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

}  // namespace

PositionLayout::PositionLayout(std::vector<std::pair<std::string, int>> topics) : topics_(std::move(topics)) {
  std::sort(topics_.begin(), topics_.end());
  uint32_t h = Fnv1a("crm.stream.position.v1\n", 2166136261u);
  for (size_t t = 0; t < topics_.size(); ++t) {
    first_slot_.push_back(static_cast<int>(slots_.size()));
    for (int p = 0; p < topics_[t].second; ++p) slots_.emplace_back(static_cast<int>(t), p);
    h = Fnv1a(topics_[t].first, h);
    h = Fnv1a("\n" + std::to_string(topics_[t].second) + "\n", h);
  }
  checksum_ = h & 0xFFFFFFu;
}

int PositionLayout::Slot(std::string_view topic, int partition) const {
  auto it = std::lower_bound(topics_.begin(), topics_.end(), topic,
                             [](const auto& entry, std::string_view name) { return entry.first < name; });
  if (it == topics_.end() || it->first != topic || partition < 0 || partition >= it->second) return -1;
  return first_slot_[it - topics_.begin()] + partition;
}

std::string PositionLayout::Encode(const std::vector<int64_t>& position) const {
  std::string bytes;
  bytes.reserve(kChecksumBytes + position.size() * 3);
  for (size_t i = 0; i < kChecksumBytes; ++i) bytes.push_back(static_cast<char>(checksum_ >> (8 * i)));
  for (int64_t v : position) {
    uint64_t u = static_cast<uint64_t>(std::max<int64_t>(v, 0));
    while (u >= 0x80) {
      bytes.push_back(static_cast<char>((u & 0x7F) | 0x80));
      u >>= 7;
    }
    bytes.push_back(static_cast<char>(u));
  }
  std::string out;
  absl::WebSafeBase64Escape(bytes, &out);
  return out;
}

std::optional<std::vector<int64_t>> PositionLayout::Decode(std::string_view id) const {
  for (char c : id) {  // the alphabet only: no padding, no whitespace
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return std::nullopt;
  }
  std::string bytes;
  if (id.empty() || !absl::WebSafeBase64Unescape(AsAbsl(id), &bytes) || bytes.size() < kChecksumBytes) {
    return std::nullopt;
  }
  uint32_t sum = 0;
  for (size_t i = 0; i < kChecksumBytes; ++i) sum |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  if (sum != checksum_) return std::nullopt;
  std::vector<int64_t> out;
  out.reserve(slots_.size());
  size_t i = kChecksumBytes;
  while (out.size() < slots_.size()) {
    uint64_t v = 0;
    int shift = 0;
    for (;;) {
      if (i >= bytes.size() || shift > 56) return std::nullopt;  // truncated, or over 63 bits
      const auto b = static_cast<unsigned char>(bytes[i++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      shift += 7;
      if ((b & 0x80) == 0) break;
    }
    if (v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    out.push_back(static_cast<int64_t>(v));
  }
  if (i != bytes.size()) return std::nullopt;
  return out;
}

}  // namespace crm::gateway::stream_internal
