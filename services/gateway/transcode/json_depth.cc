// File: services/gateway/transcode/json_depth.cc
#include "services/gateway/transcode/json_depth.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/base/status.h"

namespace crm::gateway {
namespace {

// Keys longer than this are shortened in the error (the path is for a human).
constexpr size_t kMaxKeyChars = 64;
// Array indexes shown in the path before "[…]" stands for the rest.
constexpr int kShownIndexes = 8;

struct Frame {
  bool array = false;
  int64_t index = 0;  // arrays: the element being read
  std::string key;    // objects: the key of the value being read (raw, as sent)
};

absl::Status TooDeep(const std::vector<Frame>& stack, int max_depth, std::string_view prefix) {
  std::string path(prefix), field(prefix);
  int indexes = 0;
  for (const Frame& f : stack) {
    if (f.array) {
      ++indexes;
      if (indexes <= kShownIndexes) {
        absl::StrAppend(&path, "[", f.index, "]");
      } else if (indexes == kShownIndexes + 1) {
        path += "[...]";
      }
    } else {
      indexes = 0;
      if (!path.empty()) path += '.';
      if (!field.empty()) field += '.';
      path += f.key;
      field += f.key;
    }
  }
  std::string where = path.empty() ? "the top level" : path;
  std::string description = absl::StrCat("nested deeper than ", max_depth, " levels");
  return WithFieldViolations(
      absl::InvalidArgumentError(absl::StrCat("request body: ", description, " at ", where)),
      {{field, description}});
}

}  // namespace

absl::Status CheckJsonDepth(std::string_view json, int max_depth, std::string_view prefix) {
  std::vector<Frame> stack;
  stack.reserve(static_cast<size_t>(max_depth > 0 ? std::min(max_depth, 1024) : 0));
  bool expect_key = false;  // inside an object, before a key
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    switch (c) {
      case '"': {
        const size_t start = i + 1;
        for (++i; i < json.size() && json[i] != '"'; ++i) {
          if (json[i] == '\\') ++i;
        }
        if (expect_key && !stack.empty()) {
          std::string_view key = json.substr(start, std::min(i, json.size()) - start);
          stack.back().key = std::string(key.substr(0, kMaxKeyChars));
          expect_key = false;
        }
        break;
      }
      case '[':
      case '{':
        if (static_cast<int>(stack.size()) >= max_depth) return TooDeep(stack, max_depth, prefix);
        stack.push_back(Frame{c == '[', 0, {}});
        expect_key = c == '{';
        break;
      case ']':
      case '}':
        if (!stack.empty()) stack.pop_back();
        expect_key = false;
        break;
      case ',':
        if (!stack.empty()) {
          if (stack.back().array) {
            ++stack.back().index;
          } else {
            expect_key = true;
          }
        }
        break;
      default:
        break;
    }
  }
  return absl::OkStatus();
}

}  // namespace crm::gateway
