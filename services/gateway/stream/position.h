// File: services/gateway/stream/position.h
// -----------------------------------------------------------------------------
// Internal to the stream hub (stream.h): stream positions and their text form, the SSE event id.
//
// A position is the next offset to read in every partition of a topic layout. The layout orders the
// partitions canonically (topics by name, then partition number), so any replica configured with the
// same topics (in any order) and seeing the same partition counts builds the same layout. The id is
// base64url (no padding) of: a 3-byte checksum of the layout, then one unsigned LEB128 varint per
// partition in layout order. Ids of another layout fail the checksum and are rejected.
//
// Example:
//   PositionLayout layout({{"crm.deals.deal.v1", 6}, {"crm.identity.user.v1", 3}});
//   std::string id = layout.Encode({0, 4, 0, 0, 0, 0, 17, 0, 2});
//   std::optional<std::vector<int64_t>> back = layout.Decode(id);   // the same vector
#ifndef CRM_SERVICES_GATEWAY_STREAM_POSITION_H_
#define CRM_SERVICES_GATEWAY_STREAM_POSITION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crm::gateway::stream_internal {

class PositionLayout {
 public:
  // `topics`: (name, partition count) in any order; names must be distinct.
  explicit PositionLayout(std::vector<std::pair<std::string, int>> topics);

  // Number of partitions in the layout.
  size_t size() const { return slots_.size(); }
  // The (topic, partition) of slot i, in canonical order.
  const std::string& topic(size_t i) const { return topics_[slots_[i].first].first; }
  int partition(size_t i) const { return slots_[i].second; }
  // The slot of (topic, partition), or -1 when not in the layout.
  int Slot(std::string_view topic, int partition) const;

  // The id of `position` (size() non-negative offsets).
  std::string Encode(const std::vector<int64_t>& position) const;
  // The position of `id`; nullopt when malformed, of another layout, or with trailing bytes.
  std::optional<std::vector<int64_t>> Decode(std::string_view id) const;

 private:
  std::vector<std::pair<std::string, int>> topics_;  // sorted by name
  std::vector<std::pair<int, int>> slots_;           // (index into topics_, partition)
  std::vector<int> first_slot_;                      // per topics_ entry
  uint32_t checksum_ = 0;                            // 24 bits
};

}  // namespace crm::gateway::stream_internal

#endif  // CRM_SERVICES_GATEWAY_STREAM_POSITION_H_
