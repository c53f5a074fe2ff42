// store/utf8.h: the one UTF-8 check the importer, the service and the store share.
#include "store/utf8.h"

#include <catch2/catch.hpp>

#include <string>

using xiaohao::FirstInvalidUtf8;
using xiaohao::IsValidUtf8;

TEST_CASE("UTF-8: valid text, Chinese included, passes") {
  CHECK(IsValidUtf8(""));
  CHECK(IsValidUtf8("plain ASCII, longer than one eight-byte word"));
  CHECK(IsValidUtf8("风险清单：整改一家消号一家"));
  CHECK(IsValidUtf8("mixed 医疗器械 text \xF0\x9F\x93\x8B and more ASCII after it"));
  CHECK(IsValidUtf8(std::string("\0nul is valid UTF-8", 19)));
}

TEST_CASE("UTF-8: the offset of the first bad byte, before, inside and after ASCII runs") {
  const std::string ascii16 = "0123456789abcdef";
  CHECK(FirstInvalidUtf8("\xFF") == 0);
  CHECK(FirstInvalidUtf8(ascii16 + "\xFF" + ascii16) == 16);
  CHECK(FirstInvalidUtf8(ascii16 + "x" + "\x80") == 17);                // lone continuation
  CHECK(FirstInvalidUtf8("abcdefgh\xC3") == 8);                        // truncated at the end
  CHECK(FirstInvalidUtf8(ascii16 + "\xC0\xAF") == 16);                 // overlong '/'
  CHECK(FirstInvalidUtf8(ascii16 + "\xE0\x80\xAF") == 16);             // overlong, 3 bytes
  CHECK(FirstInvalidUtf8("ab\xED\xA0\x80" + ascii16) == 2);            // surrogate U+D800
  CHECK(FirstInvalidUtf8(ascii16 + "\xF4\x90\x80\x80") == 16);         // above U+10FFFF
  CHECK(FirstInvalidUtf8("风险" + ascii16 + "\xE9\xA3") == 6 + 16);   // truncated Chinese
  // A bad byte in every position of an eight-byte word is found, not skipped.
  for (size_t at = 0; at < 24; ++at) {
    std::string s(24, 'a');
    s[at] = '\x80';
    CHECK(FirstInvalidUtf8(s) == at);
  }
}
