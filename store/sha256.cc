#include "store/sha256.h"

#include <openssl/sha.h>

namespace xiaohao {

std::string Sha256Hex(std::string_view bytes) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), d);
  static const char* kHex = "0123456789abcdef";
  std::string h;
  h.reserve(2 * SHA256_DIGEST_LENGTH);
  for (unsigned char c : d) {
    h += kHex[c >> 4];
    h += kHex[c & 15];
  }
  return h;
}

}  // namespace xiaohao
