// UTF-8 validity, for every place that takes text from outside: CSV cells,
// HTTP paths and query values, event fields. One definition, so that what
// the importer, the service and the store accept is the same.
#ifndef XIAOHAO_STORE_UTF8_H_
#define XIAOHAO_STORE_UTF8_H_

#include <cstddef>
#include <string_view>

namespace xiaohao {

// The byte offset of the first byte that does not start or continue a valid
// UTF-8 sequence (RFC 3629: no overlongs, no surrogates, at most U+10FFFF),
// or std::string_view::npos when all of `s` is valid.
size_t FirstInvalidUtf8(std::string_view s);

inline bool IsValidUtf8(std::string_view s) { return FirstInvalidUtf8(s) == std::string_view::npos; }

}  // namespace xiaohao

#endif  // XIAOHAO_STORE_UTF8_H_
