// SHA-256 as lower-case hex, for derived ids (import command ids, idempotency
// scopes) and token hashes. The hash chain itself hashes binary envelopes in
// store/envelope.cc; this is the same digest for text outside the store.
#ifndef XIAOHAO_STORE_SHA256_H_
#define XIAOHAO_STORE_SHA256_H_

#include <string>
#include <string_view>

namespace xiaohao {

// 64 hex digits.
std::string Sha256Hex(std::string_view bytes);

}  // namespace xiaohao

#endif  // XIAOHAO_STORE_SHA256_H_
